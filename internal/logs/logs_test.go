package logs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *Service
	store logstore.Store
	ctx   context.Context

	mu  sync.Mutex // now is read by query goroutines while a test moves it
	now time.Time
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: t0}
	f.store = logstore.NewMemoryClock(func() int64 { return f.clock().UnixMilli() })
	f.svc = New(Config{Store: f.store, AccountID: "123456789012", Now: f.clock})
	f.ctx = awsapi.WithInfo(context.Background(), awsapi.RequestInfo{Region: "eu-west-1"})
	t.Cleanup(func() { f.store.Close() })
	return f
}

func p[T any](v T) *T { return &v }

// call runs an operation through the registry and the JSON decoding, as
// the router does.
func (f *fixture) call(t *testing.T, op, body string) (any, error) {
	t.Helper()
	h := f.svc.Operations()[op]
	if h == nil {
		t.Fatalf("no operation %s", op)
	}
	return h(f.ctx, []byte(body))
}

// must returns v or panics with err: setup steps that cannot fail unless
// the code under test is broken.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func wantAWS(t *testing.T, err error, code, msg string) {
	t.Helper()
	e := awsapi.AsError(err)
	if e == nil || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %v, want %s containing %q", err, code, msg)
	}
}

func (f *fixture) group(t *testing.T, name string, streams ...string) {
	t.Helper()
	must(f.svc.CreateLogGroup(f.ctx, &CreateLogGroupInput{LogGroupName: p(name)}))
	for _, s := range streams {
		must(f.svc.CreateLogStream(f.ctx, &CreateLogStreamInput{LogGroupName: p(name), LogStreamName: p(s)}))
	}
}

func (f *fixture) put(t *testing.T, group, stream string, ev ...logstore.Event) (*PutLogEventsOutput, error) {
	t.Helper()
	return f.svc.PutLogEvents(f.ctx, &PutLogEventsInput{LogGroupName: p(group), LogStreamName: p(stream), LogEvents: ev, HasLogEvents: true})
}

func ev(ts time.Time, msg string) logstore.Event {
	return logstore.Event{Timestamp: ts.UnixMilli(), Message: msg}
}

func TestGroupLifecycle(t *testing.T) {
	f := newFixture(t)
	f.group(t, "/aws/vpc/flow")
	_, err := f.svc.CreateLogGroup(f.ctx, &CreateLogGroupInput{LogGroupName: p("/aws/vpc/flow")})
	wantAWS(t, err, "ResourceAlreadyExistsException", "The specified log group already exists")
	_, err = f.svc.CreateLogGroup(f.ctx, &CreateLogGroupInput{LogGroupName: p("bad name"), LogGroupClass: p("CHEAP")})
	wantAWS(t, err, "InvalidParameterException", "2 validation errors detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+; Value 'CHEAP' at 'logGroupClass'")
	_, err = f.svc.CreateLogGroup(f.ctx, &CreateLogGroupInput{LogGroupName: p(strings.Repeat("a", 513))})
	wantAWS(t, err, "InvalidParameterException", "Member must have length less than or equal to 512")
	if len(f.store.Groups()) != 1 {
		t.Fatal("a rejected CreateLogGroup created a group")
	}

	out := must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{}))
	g := out.LogGroups[0]
	if g.Arn != "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/flow:*" || g.LogGroupArn != strings.TrimSuffix(g.Arn, ":*") ||
		g.RetentionInDays != nil || g.CreationTime != t0.UnixMilli() || *g.StoredBytes != 0 || g.LogGroupClass != "STANDARD" {
		t.Fatalf("%+v", g)
	}

	must(f.svc.PutRetentionPolicy(f.ctx, &PutRetentionPolicyInput{LogGroupName: p("/aws/vpc/flow"), RetentionInDays: p(int64(7))}))
	_, err = f.svc.PutRetentionPolicy(f.ctx, &PutRetentionPolicyInput{LogGroupName: p("/aws/vpc/flow"), RetentionInDays: p(int64(8))})
	wantAWS(t, err, "InvalidParameterException", "Value '8' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14,")
	_, err = f.svc.PutRetentionPolicy(f.ctx, &PutRetentionPolicyInput{LogGroupName: p("nope"), RetentionInDays: p(int64(1))})
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	out = must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{}))
	if *out.LogGroups[0].RetentionInDays != 7 {
		t.Fatal("retention not kept")
	}
	must(f.svc.DeleteRetentionPolicy(f.ctx, &DeleteRetentionPolicyInput{LogGroupName: p("/aws/vpc/flow")}))
	out = must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{}))
	if out.LogGroups[0].RetentionInDays != nil {
		t.Fatal("retention not removed")
	}

	must(f.svc.DeleteLogGroup(f.ctx, &DeleteLogGroupInput{LogGroupName: p("/aws/vpc/flow")}))
	_, err = f.svc.DeleteLogGroup(f.ctx, &DeleteLogGroupInput{LogGroupName: p("/aws/vpc/flow")})
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")

	f.group(t, "protected")
	if err := f.store.UpdateGroup(StoreKey("eu-west-1", "protected"), func(m *logstore.GroupMeta) error { m.DeletionProtection = true; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.DeleteLogGroup(f.ctx, &DeleteLogGroupInput{LogGroupName: p("protected")})
	wantAWS(t, err, "ValidationException", "deletion protection")
}

func TestDescribeLogGroupsPaging(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 7; i++ {
		f.group(t, fmt.Sprintf("app-%d", i))
	}
	f.group(t, "other-DataLogs")
	var names []string
	in := &DescribeLogGroupsInput{LogGroupNamePrefix: p("app-"), Limit: p(int64(3))}
	for pages := 0; ; pages++ {
		out := must(f.svc.DescribeLogGroups(f.ctx, in))
		for _, g := range out.LogGroups {
			names = append(names, g.LogGroupName)
		}
		if out.NextToken == "" {
			if pages != 2 {
				t.Fatalf("pages %d", pages)
			}
			break
		}
		in.NextToken = p(out.NextToken)
	}
	if strings.Join(names, ",") != "app-0,app-1,app-2,app-3,app-4,app-5,app-6" {
		t.Fatal(names)
	}
	out := must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{LogGroupNamePattern: p("DataLogs")}))
	if len(out.LogGroups) != 1 || out.LogGroups[0].StoredBytes != nil || out.LogGroups[0].LogGroupArn != "" {
		t.Fatalf("pattern: %+v", out.LogGroups)
	}
	out = must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{LogGroupIdentifiers: []string{"app-3", "arn:aws:logs:eu-west-1:123456789012:log-group:app-5"}}))
	if len(out.LogGroups) != 2 || out.LogGroups[1].LogGroupName != "app-5" {
		t.Fatalf("identifiers: %+v", out.LogGroups)
	}
	_, err := f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{LogGroupNamePrefix: p("a"), LogGroupNamePattern: p("b")})
	wantAWS(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{Limit: p(int64(51))})
	wantAWS(t, err, "InvalidParameterException", "Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50")
	_, err = f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{NextToken: p("garbage")})
	wantAWS(t, err, "InvalidParameterException", "The specified nextToken is invalid.")
}

func TestPutLogEventsRules(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "s")
	// Too old, fine, too new: the valid middle is stored, the rest reported
	// with exclusive end indexes.
	out := must(f.put(t, "g", "s",
		ev(t0.Add(-15*24*time.Hour), "old0"), ev(t0.Add(-14*24*time.Hour-time.Second), "old1"),
		ev(t0.Add(-time.Hour), "ok2"), ev(t0, "ok3"),
		ev(t0.Add(2*time.Hour+time.Second), "new4")))
	r := out.RejectedLogEventsInfo
	if r == nil || *r.TooOldLogEventEndIndex != 2 || *r.TooNewLogEventStartIndex != 4 || r.ExpiredLogEventEndIndex != nil {
		t.Fatalf("rejected %+v", r)
	}
	evs, _, _ := f.store.Events(context.Background(), logstore.EventQuery{Group: StoreKey("eu-west-1", "g"), Start: logstore.MinTime, End: logstore.MaxTime})
	if len(evs) != 2 || evs[0].Message != "ok2" || evs[1].Message != "ok3" || evs[0].IngestionTime != t0.UnixMilli() {
		t.Fatalf("stored %+v", evs)
	}

	// Retention rejects expired events.
	must(f.svc.PutRetentionPolicy(f.ctx, &PutRetentionPolicyInput{LogGroupName: p("g"), RetentionInDays: p(int64(1))}))
	out = must(f.put(t, "g", "s", ev(t0.Add(-25*time.Hour), "exp"), ev(t0, "ok")))
	if r := out.RejectedLogEventsInfo; r == nil || *r.ExpiredLogEventEndIndex != 1 || r.TooOldLogEventEndIndex != nil {
		t.Fatalf("expired %+v", out.RejectedLogEventsInfo)
	}
	must(f.svc.DeleteRetentionPolicy(f.ctx, &DeleteRetentionPolicyInput{LogGroupName: p("g")}))

	before := count(t, f, "g")
	bad := []struct {
		name   string
		events []logstore.Event
		code   string
		msg    string
	}{
		{"order", []logstore.Event{ev(t0, "b"), ev(t0.Add(-time.Second), "a")}, "InvalidParameterException",
			"Log events in a single PutLogEvents request must be in chronological order."},
		{"span", []logstore.Event{ev(t0.Add(-25*time.Hour), "a"), ev(t0, "b")}, "InvalidParameterException",
			"The batch of log events in a single PutLogEvents request cannot span more than 24 hours."},
		{"event size", []logstore.Event{ev(t0, strings.Repeat("x", 1048576-25))}, "InvalidParameterException",
			"Log event too large: 1048577 bytes exceeds limit of 1048576"},
		{"batch size", []logstore.Event{ev(t0, strings.Repeat("x", 600000)), ev(t0, strings.Repeat("y", 600000))}, "InvalidParameterException",
			"Upload too large: 1200052 bytes exceeds limit of 1048576"},
		{"empty message", []logstore.Event{ev(t0, "")}, "InvalidParameterException",
			"Value '' at 'logEvents.1.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"negative timestamp", []logstore.Event{{Timestamp: -1, Message: "m"}}, "InvalidParameterException",
			"Value '-1' at 'logEvents.1.member.timestamp' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"no events", []logstore.Event{}, "InvalidParameterException",
			"at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"too many", make([]logstore.Event, 10001), "InvalidParameterException",
			"Member must have length less than or equal to 10000"},
	}
	for _, c := range bad {
		_, err := f.put(t, "g", "s", c.events...)
		wantAWS(t, err, c.code, c.msg)
	}
	_, err := f.put(t, "g", "nostream", ev(t0, "x"))
	wantAWS(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	_, err = f.put(t, "nogroup", "s", ev(t0, "x"))
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	// All rejected individually, on a missing stream: still not found.
	_, err = f.put(t, "g", "nostream", ev(t0.Add(3*time.Hour), "x"))
	wantAWS(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	if count(t, f, "g") != before {
		t.Fatal("a rejected PutLogEvents stored events")
	}
	// Exactly 24 hours and exactly the limits are fine.
	must(f.put(t, "g", "s", ev(t0.Add(-24*time.Hour), "a"), ev(t0, strings.Repeat("z", 1048576-26-27))))
}

func count(t *testing.T, f *fixture, g string) int {
	evs, _, err := f.store.Events(context.Background(), logstore.EventQuery{Group: StoreKey("eu-west-1", g), Start: logstore.MinTime, End: logstore.MaxTime})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func TestPutLogEventsDecode(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "s")
	ts := t0.UnixMilli()
	body := fmt.Sprintf(`{"logGroupName":"g","logStreamName":"s","sequenceToken":"49","entity":{"keyAttributes":{"a":"b","c":"d"}},
		"logEvents":[{"timestamp":%d,"message":"plain"},{"message":"esc \"q\" \u00e9 \ud83d\ude00 \n","timestamp":%d},{"timestamp":%d,"message":"ütf8 ✓"}]}`, ts, ts, ts)
	if _, err := f.call(t, "PutLogEvents", body); err != nil {
		t.Fatal(err)
	}
	evs, _, _ := f.store.Events(context.Background(), logstore.EventQuery{Group: StoreKey("eu-west-1", "g"), Start: logstore.MinTime, End: logstore.MaxTime})
	if len(evs) != 3 || evs[0].Message != "plain" || evs[1].Message != "esc \"q\" é 😀 \n" || evs[2].Message != "ütf8 ✓" {
		t.Fatalf("%+v", evs)
	}
	bad := []struct{ body, code, msg string }{
		{`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":"1","message":"m"}]}`, "SerializationException", "member 'timestamp': expected a number"},
		{`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1.5,"message":"m"}]}`, "SerializationException", "expected an integer"},
		{`{"logGroupName":"g","logStreamName":"s","logEvents":{"timestamp":1}}`, "SerializationException", "member 'logEvents': expected a list"},
		{`{"logGroupName":5}`, "SerializationException", "member 'logGroupName': expected a string"},
		{`{"logGroupName":"g",`, "SerializationException", "unexpected end of input"},
		{`{"logGroupName":"g"} x`, "SerializationException", "after the top-level object"},
		{`[]`, "SerializationException", "where an object was expected"},
		{`{"logGroupName":"g","logStreamName":"s","logEvents":[{"message":"m"}]}`, "InvalidParameterException", "Value null at 'logEvents.1.member.timestamp' failed to satisfy constraint: Member must not be null"},
		{`{"logGroupName":"g","logStreamName":"s"}`, "InvalidParameterException", "Value null at 'logEvents'"},
	}
	for _, c := range bad {
		_, err := f.call(t, "PutLogEvents", c.body)
		wantAWS(t, err, c.code, c.msg)
	}
}

func TestGetLogEventsTokens(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "s", "other")
	var batch []logstore.Event
	for i := 0; i < 10; i++ {
		batch = append(batch, ev(t0.Add(time.Duration(i)*time.Second), fmt.Sprint("m", i)))
	}
	must(f.put(t, "g", "s", batch...))
	must(f.put(t, "g", "other", ev(t0, "not mine")))

	// Newest page first by default.
	out := must(f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), Limit: p(int64(3))}))
	if msgs(out) != "m7,m8,m9" {
		t.Fatal(msgs(out))
	}
	// Walk backward to the start; the end is signalled by the same token.
	var all []string
	all = append(all, msgs(out))
	tok := out.NextBackwardToken
	for i := 0; ; i++ {
		out = must(f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), Limit: p(int64(3)), NextToken: p(tok)}))
		if out.NextBackwardToken == tok {
			if len(out.Events) != 0 {
				t.Fatal("events at the end")
			}
			break
		}
		all = append([]string{msgs(out)}, all...)
		tok = out.NextBackwardToken
		if i > 10 {
			t.Fatal("backward paging does not end")
		}
	}
	if strings.Join(all, ",") != "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9" {
		t.Fatal(all)
	}
	// From the head forward, then new events arrive after the end token.
	in := &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), StartFromHead: p(true), Limit: p(int64(4))}
	var fwd []string
	for {
		out = must(f.svc.GetLogEvents(f.ctx, in))
		if in.NextToken != nil && out.NextForwardToken == *in.NextToken {
			break
		}
		fwd = append(fwd, msgs(out))
		in.NextToken = p(out.NextForwardToken)
	}
	if strings.Join(fwd, "|") != "m0,m1,m2,m3|m4,m5,m6,m7|m8,m9" {
		t.Fatal(fwd)
	}
	must(f.put(t, "g", "s", ev(t0.Add(time.Minute), "m10")))
	out = must(f.svc.GetLogEvents(f.ctx, in))
	if msgs(out) != "m10" || out.NextForwardToken == *in.NextToken {
		t.Fatalf("new event after end token: %q", msgs(out))
	}
	// Time range: startTime inclusive, endTime exclusive.
	out = must(f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), StartFromHead: p(true),
		StartTime: p(t0.Add(2 * time.Second).UnixMilli()), EndTime: p(t0.Add(4 * time.Second).UnixMilli())}))
	if msgs(out) != "m2,m3" {
		t.Fatal(msgs(out))
	}
	_, err := f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("other"), NextToken: in.NextToken})
	wantAWS(t, err, "InvalidParameterException", "nextToken is invalid")
	_, err = f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("nope")})
	wantAWS(t, err, "ResourceNotFoundException", "log stream does not exist")
	_, err = f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupName: p("g"), LogGroupIdentifier: p("g"), LogStreamName: p("s")})
	wantAWS(t, err, "InvalidParameterException", "mutually exclusive")
	out = must(f.svc.GetLogEvents(f.ctx, &GetLogEventsInput{LogGroupIdentifier: p("arn:aws:logs:eu-west-1:123456789012:log-group:g"), LogStreamName: p("s"), Limit: p(int64(1))}))
	if msgs(out) != "m10" {
		t.Fatal(msgs(out))
	}
}

func msgs(out *GetLogEventsOutput) string {
	var s []string
	for _, e := range out.Events {
		s = append(s, e.Message)
	}
	return strings.Join(s, ",")
}

func TestFilterLogEvents(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "a-1", "a-2", "b-1")
	for i, st := range []string{"a-1", "a-2", "b-1"} {
		must(f.put(t, "g", st,
			ev(t0.Add(time.Duration(i)*time.Second), "ERROR disk "+st),
			ev(t0.Add(time.Duration(i+10)*time.Second), "INFO ok "+st)))
	}
	in := &FilterLogEventsInput{LogGroupName: p("g"), FilterPattern: p("ERROR"), Limit: p(int64(2))}
	var got []string
	for pages := 0; pages < 10; pages++ {
		out := must(f.svc.FilterLogEvents(f.ctx, in))
		if out.SearchedLogStreams == nil || len(out.SearchedLogStreams) != 0 {
			t.Fatal("searchedLogStreams must be []")
		}
		for _, e := range out.Events {
			if e.EventID == "" {
				t.Fatal("no eventId")
			}
			got = append(got, e.LogStreamName)
		}
		if out.NextToken == "" {
			break
		}
		in.NextToken = p(out.NextToken)
	}
	if strings.Join(got, ",") != "a-1,a-2,b-1" {
		t.Fatal(got)
	}
	out := must(f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("g"), LogStreamNamePrefix: p("a-"),
		StartTime: p(t0.Add(time.Second).UnixMilli()), EndTime: p(t0.Add(11 * time.Second).UnixMilli())}))
	if len(out.Events) != 3 { // a-2 ERROR at 1s, a-1 INFO at 10s, a-2 INFO at 11s (endTime inclusive)
		t.Fatalf("%+v", out.Events)
	}
	out = must(f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("g"), LogStreamNames: []string{"b-1"}, FilterPattern: p("?disk ?nothing")}))
	if len(out.Events) != 1 || out.Events[0].Message != "ERROR disk b-1" {
		t.Fatalf("%+v", out.Events)
	}
	// startFromHead=false: newest first, paged towards older events.
	in = &FilterLogEventsInput{LogGroupName: p("g"), StartFromHead: p(false), StartTime: p(t0.UnixMilli()), Limit: p(int64(4))}
	var order []string
	for pages := 0; pages < 5; pages++ {
		out := must(f.svc.FilterLogEvents(f.ctx, in))
		for _, e := range out.Events {
			order = append(order, e.Message)
		}
		if out.NextToken == "" {
			break
		}
		in.NextToken = p(out.NextToken)
	}
	if strings.Join(order, ",") != "INFO ok b-1,INFO ok a-2,INFO ok a-1,ERROR disk b-1,ERROR disk a-2,ERROR disk a-1" {
		t.Fatal(order)
	}
	_, err := f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("g"), StartFromHead: p(false), StartTime: p(int64(0))})
	wantAWS(t, err, "InvalidParameterException", "startFromHead=false requires a startTime on or after 2024-01-01")
	_, err = f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("g"), LogStreamNames: []string{"a"}, LogStreamNamePrefix: p("a")})
	wantAWS(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("g"), FilterPattern: p("{ $.x = ")})
	wantAWS(t, err, "InvalidParameterException", "Invalid filter pattern")
	_, err = f.svc.FilterLogEvents(f.ctx, &FilterLogEventsInput{LogGroupName: p("nope")})
	wantAWS(t, err, "ResourceNotFoundException", "log group does not exist")
}

func TestDescribeLogStreams(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "c", "a", "b", "empty")
	must(f.put(t, "g", "a", ev(t0.Add(-3*time.Second), "xx")))
	must(f.put(t, "g", "b", ev(t0.Add(-1*time.Second), "yyy")))
	must(f.put(t, "g", "c", ev(t0.Add(-2*time.Second), "z")))
	names := func(in *DescribeLogStreamsInput) string {
		var s []string
		for pages := 0; pages < 10; pages++ {
			out := must(f.svc.DescribeLogStreams(f.ctx, in))
			for _, st := range out.LogStreams {
				s = append(s, st.LogStreamName)
			}
			if out.NextToken == "" {
				return strings.Join(s, ",")
			}
			in.NextToken = p(out.NextToken)
		}
		t.Fatal("paging does not end")
		return ""
	}
	if got := names(&DescribeLogStreamsInput{LogGroupName: p("g"), Limit: p(int64(2))}); got != "a,b,c,empty" {
		t.Fatal(got)
	}
	if got := names(&DescribeLogStreamsInput{LogGroupName: p("g"), Limit: p(int64(1)), Descending: p(true)}); got != "empty,c,b,a" {
		t.Fatal(got)
	}
	if got := names(&DescribeLogStreamsInput{LogGroupName: p("g"), Limit: p(int64(3)), OrderBy: p("LastEventTime"), Descending: p(true)}); got != "b,c,a,empty" {
		t.Fatal(got)
	}
	out := must(f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{LogGroupIdentifier: p("g"), LogStreamNamePrefix: p("a")}))
	st := out.LogStreams[0]
	if len(out.LogStreams) != 1 || *st.FirstEventTimestamp != t0.Add(-3*time.Second).UnixMilli() || *st.LastIngestionTime != t0.UnixMilli() ||
		st.StoredBytes != 0 || st.Arn != "arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:a" {
		t.Fatalf("%+v", st)
	}
	out = must(f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{LogGroupName: p("g"), LogStreamNamePrefix: p("empty")}))
	if out.LogStreams[0].FirstEventTimestamp != nil {
		t.Fatal("empty stream shows event times")
	}
	_, err := f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{LogGroupName: p("g"), LogStreamNamePrefix: p("a"), OrderBy: p("LastEventTime")})
	wantAWS(t, err, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
	_, err = f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{LogGroupName: p("g"), OrderBy: p("Name")})
	wantAWS(t, err, "InvalidParameterException", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	_, err = f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{})
	wantAWS(t, err, "InvalidParameterException", "Either LogGroupName or LogGroupIdentifier")
	_, err = f.svc.CreateLogStream(f.ctx, &CreateLogStreamInput{LogGroupName: p("g"), LogStreamName: p("a:b")})
	wantAWS(t, err, "InvalidParameterException", "Member must satisfy regular expression pattern: [^:*]*")
	_, err = f.svc.CreateLogStream(f.ctx, &CreateLogStreamInput{LogGroupName: p("g"), LogStreamName: p("a")})
	wantAWS(t, err, "ResourceAlreadyExistsException", "The specified log stream already exists")
	must(f.svc.DeleteLogStream(f.ctx, &DeleteLogStreamInput{LogGroupName: p("g"), LogStreamName: p("a")}))
	_, err = f.svc.DeleteLogStream(f.ctx, &DeleteLogStreamInput{LogGroupName: p("g"), LogStreamName: p("a")})
	wantAWS(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
}

func TestTags(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g")
	arn := "arn:aws:logs:eu-west-1:123456789012:log-group:g"
	must(f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p(arn), Tags: map[string]string{"team": "net", "env": "prod"}}))
	must(f.svc.TagLogGroup(f.ctx, &TagLogGroupInput{LogGroupName: p("g"), Tags: map[string]string{"env": "dev"}}))
	out := must(f.svc.ListTagsForResource(f.ctx, &ListTagsForResourceInput{ResourceArn: p(arn)}))
	if len(out.Tags) != 2 || out.Tags["env"] != "dev" {
		t.Fatal(out.Tags)
	}
	must(f.svc.UntagResource(f.ctx, &UntagResourceInput{ResourceArn: p(arn), TagKeys: []string{"team"}}))
	must(f.svc.UntagLogGroup(f.ctx, &UntagLogGroupInput{LogGroupName: p("g"), Tags: []string{"env"}}))
	out = must(f.svc.ListTagsLogGroup(f.ctx, &ListTagsLogGroupInput{LogGroupName: p("g")}))
	if out.Tags == nil || len(out.Tags) != 0 {
		t.Fatal(out.Tags)
	}
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many[fmt.Sprint("k", i)] = "v"
	}
	must(f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p(arn), Tags: many}))
	_, err := f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p(arn), Tags: map[string]string{"one": "more"}})
	wantAWS(t, err, "TooManyTagsException", "no more than 50 tags")
	if awsapi.AsError(err).Fields["resourceName"] != arn {
		t.Fatal("TooManyTagsException without resourceName")
	}
	out = must(f.svc.ListTagsLogGroup(f.ctx, &ListTagsLogGroupInput{LogGroupName: p("g")}))
	if len(out.Tags) != 50 {
		t.Fatal("a rejected TagResource changed tags")
	}
	_, err = f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p(arn + ":*"), Tags: map[string]string{"a": "b"}})
	wantAWS(t, err, "InvalidParameterException", "Member must satisfy regular expression pattern")
	_, err = f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p("arn:aws:logs:eu-west-1:999999999999:log-group:g"), Tags: map[string]string{"a": "b"}})
	wantAWS(t, err, "ResourceNotFoundException", "does not exist")
	_, err = f.svc.TagLogGroup(f.ctx, &TagLogGroupInput{LogGroupName: p("g"), Tags: map[string]string{"bad*key": "v"}})
	wantAWS(t, err, "InvalidParameterException", "1 validation error detected: Value '{bad*key=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$]")
	_, err = f.svc.UntagResource(f.ctx, &UntagResourceInput{ResourceArn: p(arn), TagKeys: []string{"ok", ""}})
	wantAWS(t, err, "InvalidParameterException", "Value '[ok, ]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1,")
	_, err = f.svc.ListTagsLogGroup(f.ctx, &ListTagsLogGroupInput{LogGroupName: p("nope")})
	wantAWS(t, err, "ResourceNotFoundException", "log group does not exist")
}

// TestExtensionHooks: an operations file can attach state at New and stop
// its work at Close without touching service.go (as insights_ops.go will).
func TestExtensionHooks(t *testing.T) {
	type key struct{}
	saved := setups
	defer func() { setups = saved }()
	closed := false
	registerSetup(func(s *Service) {
		s.setExt(key{}, "state")
		s.onClose(func() error { closed = true; return nil })
	})
	s := New(Config{Store: logstore.NewMemory()})
	if s.getExt(key{}) != "state" {
		t.Fatal("setup hook did not run")
	}
	if err := s.Close(); err != nil || !closed {
		t.Fatal("closer did not run")
	}
}

// TestFilterScanBudget: a sparse filter returns (possibly empty) pages with
// a token when its scan budget runs out, and paging still finds every match
// exactly once, in both directions.
func TestFilterScanBudget(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "s")
	var batch []logstore.Event
	for i := 0; i < 25; i++ {
		msg := fmt.Sprint("noise ", i)
		if i%7 == 3 {
			msg = fmt.Sprint("needle ", i)
		}
		batch = append(batch, ev(t0.Add(time.Duration(i)*time.Second), msg))
	}
	must(f.put(t, "g", "s", batch...))
	defer func(e, m int) { filterMarkEvery, filterMaxScan = e, m }(filterMarkEvery, filterMaxScan)
	filterMarkEvery, filterMaxScan = 2, 4
	for _, newest := range []bool{false, true} {
		in := &FilterLogEventsInput{LogGroupName: p("g"), FilterPattern: p("needle"), StartFromHead: p(!newest), StartTime: p(t0.UnixMilli()), Limit: p(int64(2))}
		var got []string
		pages, empty := 0, 0
		for ; pages < 50; pages++ {
			out := must(f.svc.FilterLogEvents(f.ctx, in))
			if len(out.Events) == 0 {
				empty++
			}
			for _, e := range out.Events {
				got = append(got, e.Message)
			}
			if out.NextToken == "" {
				break
			}
			in.NextToken = p(out.NextToken)
		}
		want := "needle 3,needle 10,needle 17,needle 24"
		if newest {
			want = "needle 24,needle 17,needle 10,needle 3"
		}
		if strings.Join(got, ",") != want || empty == 0 || pages >= 50 {
			t.Fatalf("newest=%v: %q after %d pages (%d empty)", newest, got, pages, empty)
		}
	}
}
