package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/insights"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// flowLine is a default-format flow log record.
func flowLine(i int, action string, bytes int) string {
	return fmt.Sprintf("2 123456789012 eni-0a%02d 10.0.0.%d 10.0.1.1 4%04d 22 6 3 %d %d %d %s OK",
		i%4, i%5, i, bytes, t0.Unix()-600+int64(i), t0.Unix()-540+int64(i), action)
}

// loadFlows writes n flow records (timestamps in the last 10 minutes) and
// returns them.
func loadFlows(t *testing.T, f *fixture, group string, n int) []logstore.Event {
	f.group(t, group, "s1")
	var evs []logstore.Event
	for i := range n {
		action := "ACCEPT"
		if i%3 == 0 {
			action = "REJECT"
		}
		evs = append(evs, logstore.Event{Timestamp: t0.Add(-10*time.Minute).UnixMilli() + int64(i)*1000, Message: flowLine(i, action, 100+i)})
	}
	if _, err := f.put(t, group, "s1", evs...); err != nil {
		t.Fatal(err)
	}
	return evs
}

// wait polls GetQueryResults until the query leaves Scheduled/Running.
func (f *fixture) wait(t *testing.T, id string) *GetQueryResultsOutput {
	t.Helper()
	return f.waitIn(t, f.ctx, id)
}

// waitIn is wait for a query started in ctx's region.
func (f *fixture) waitIn(t *testing.T, ctx context.Context, id string) *GetQueryResultsOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := f.svc.GetQueryResults(ctx, &GetQueryResultsInput{QueryID: &id})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != statusScheduled && out.Status != statusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s still %s", id, out.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) startQuery(t *testing.T, in StartQueryInput) string {
	t.Helper()
	out, err := f.svc.StartQuery(f.ctx, &in)
	if err != nil {
		t.Fatal(err)
	}
	return out.QueryID
}

func cell(row []insights.ResultField, field string) (string, bool) {
	for _, c := range row {
		if c.Field == field {
			return c.Value, true
		}
	}
	return "", false
}

func TestStartQueryAndResults(t *testing.T) {
	f := newFixture(t)
	evs := loadFlows(t, f, "vpc", 60)
	start, end := t0.Add(-time.Hour).Unix(), t0.Unix()
	id := f.startQuery(t, StartQueryInput{LogGroupName: p("vpc"), StartTime: &start, EndTime: &end,
		QueryString: p(`filter action = "REJECT" | stats sum(bytes) as b, count(*) by srcAddr | sort b desc`)})
	out := f.wait(t, id)
	if out.Status != statusComplete {
		t.Fatalf("status %s", out.Status)
	}
	// The same sums, computed from the events written.
	sums, counts := map[string]int{}, map[string]int{}
	for _, e := range evs {
		tok := strings.Fields(e.Message)
		if tok[12] != "REJECT" {
			continue
		}
		b, _ := strconv.Atoi(tok[9])
		sums[tok[3]] += b
		counts[tok[3]]++
	}
	if len(out.Results) != len(sums) {
		t.Fatalf("%d rows, want %d: %v", len(out.Results), len(sums), out.Results)
	}
	prev := int(^uint(0) >> 1)
	for _, row := range out.Results {
		addr, _ := cell(row, "srcAddr")
		b, _ := cell(row, "b")
		n, _ := cell(row, "count(*)")
		if b != strconv.Itoa(sums[addr]) || n != strconv.Itoa(counts[addr]) {
			t.Errorf("%s: b=%s count=%s, want %d %d", addr, b, n, sums[addr], counts[addr])
		}
		bi, _ := strconv.Atoi(b)
		if bi > prev {
			t.Errorf("not sorted by b desc: %v", out.Results)
		}
		prev = bi
		if _, ok := cell(row, "@ptr"); ok {
			t.Error("stats rows carry no @ptr")
		}
	}
	if out.Statistics.RecordsScanned != 60 || out.Statistics.RecordsMatched != 20 || out.Statistics.BytesScanned <= 0 {
		t.Errorf("statistics %+v", out.Statistics)
	}
	// The wire form: statistics are numbers, rows lists of {field, value}.
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), `"statistics":{"recordsMatched":20,"recordsScanned":60,`) || !strings.Contains(string(b), `[{"field":"srcAddr","value":"10.0.0.`) {
		t.Errorf("wire form %s", b)
	}
}

func TestStartQueryTimeRangeAndLimit(t *testing.T) {
	f := newFixture(t)
	evs := loadFlows(t, f, "vpc", 30)
	// Seconds: [start*1000, end*1000], both inclusive, no +999.
	from, to := evs[5].Timestamp/1000, evs[9].Timestamp/1000
	id := f.startQuery(t, StartQueryInput{LogGroupNames: []string{"vpc"}, StartTime: &from, EndTime: &to, QueryString: p("fields @timestamp, @message")})
	out := f.wait(t, id)
	if len(out.Results) != 5 {
		t.Fatalf("%d rows, want 5", len(out.Results))
	}
	if ts, _ := cell(out.Results[0], "@timestamp"); ts != time.UnixMilli(evs[9].Timestamp).UTC().Format("2006-01-02 15:04:05.000") {
		t.Errorf("newest first: %s", ts)
	}
	// Milliseconds are accepted too; limit caps the rows; pages of maxItems.
	fromMs, toMs := evs[0].Timestamp, evs[29].Timestamp
	id = f.startQuery(t, StartQueryInput{LogGroupIdentifiers: []string{"arn:aws:logs:eu-west-1:123456789012:log-group:vpc"},
		StartTime: &fromMs, EndTime: &toMs, QueryString: p("fields @message"), Limit: p(int64(25))})
	out = f.wait(t, id)
	if len(out.Results) != 25 {
		t.Fatalf("%d rows with limit 25", len(out.Results))
	}
	var all [][]insights.ResultField
	var tok *string
	for range 10 {
		page, err := f.svc.GetQueryResults(f.ctx, &GetQueryResultsInput{QueryID: &id, MaxItems: p(int64(10)), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Results...)
		if tok = page.NextToken; tok == nil {
			break
		}
	}
	if len(all) != 25 || fmt.Sprint(all) != fmt.Sprint(out.Results) {
		t.Fatalf("pages gave %d rows", len(all))
	}
}

func TestStartQueryErrors(t *testing.T) {
	f := newFixture(t)
	loadFlows(t, f, "vpc", 3)
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	_, err := f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupName: p("vpc"), StartTime: &s, EndTime: &e, QueryString: p("fields @message\n| stats count(*) by")})
	wantAWS(t, err, "MalformedQueryException", "line 2, column")
	ae := awsapi.AsError(err)
	ce, _ := ae.Fields["queryCompileError"].(map[string]any)
	loc, _ := ce["location"].(map[string]int)
	if loc == nil || loc["startCharOffset"] < len("fields @message\n") || loc["endCharOffset"] < loc["startCharOffset"] {
		t.Errorf("queryCompileError %v", ae.Fields)
	}
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupName: p("nope"), StartTime: &s, EndTime: &e, QueryString: p("fields @message")})
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	many := make([]string, 51)
	for i := range many {
		many[i] = "g" + strconv.Itoa(i)
	}
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupNames: many, StartTime: &s, EndTime: &e, QueryString: p("fields @message")})
	wantAWS(t, err, "InvalidParameterException", "at 'logGroupNames' failed to satisfy constraint: Member must have length less than or equal to 50")
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupName: p("vpc"), StartTime: &e, EndTime: &s, QueryString: p("fields @message")})
	wantAWS(t, err, "InvalidParameterException", "must not be before startTime")
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupName: p("vpc"), LogGroupNames: []string{"vpc"}, StartTime: &s, EndTime: &e, QueryString: p("fields @message")})
	wantAWS(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{StartTime: &s, EndTime: &e, QueryString: p("fields @message")})
	wantAWS(t, err, "InvalidParameterException", "Exactly one of")
	_, err = f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupIdentifiers: []string{"arn:aws:logs:eu-west-1:123456789012:log-group:vpc:*"}, StartTime: &s, EndTime: &e, QueryString: p("fields @message")})
	wantAWS(t, err, "InvalidParameterException", "at 'logGroupIdentifiers' failed to satisfy constraint")
	_, err = f.call(t, "StartQuery", `{"logGroupName":"vpc","queryString":"fields @message"}`)
	wantAWS(t, err, "InvalidParameterException", "Value null at 'startTime' failed to satisfy constraint: Member must not be null")
	_, err = f.svc.GetQueryResults(f.ctx, &GetQueryResultsInput{QueryID: p("no-such-query")})
	wantAWS(t, err, "ResourceNotFoundException", "query does not exist")
}

func TestSourceCommand(t *testing.T) {
	f := newFixture(t)
	loadFlows(t, f, "/vpc/a", 4)
	loadFlows(t, f, "/vpc/b", 6)
	loadFlows(t, f, "other", 5)
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	id := f.startQuery(t, StartQueryInput{StartTime: &s, EndTime: &e, QueryString: p("SOURCE logGroups(namePrefix: ['/vpc/']) | stats count(*) as n by @log")})
	out := f.wait(t, id)
	got := map[string]string{}
	for _, r := range out.Results {
		l, _ := cell(r, "@log")
		got[l], _ = cell(r, "n")
	}
	if len(got) != 2 || got["123456789012:/vpc/a"] != "4" || got["123456789012:/vpc/b"] != "6" {
		t.Fatalf("SOURCE: %v", out.Results)
	}
	_, err := f.svc.StartQuery(f.ctx, &StartQueryInput{LogGroupName: p("other"), StartTime: &s, EndTime: &e, QueryString: p("SOURCE logGroups() | fields @message")})
	wantAWS(t, err, "InvalidParameterException", "SOURCE")
}

// blockingSource holds a scan until its context ends.
type blockingSource struct{ started chan struct{} }

func (b *blockingSource) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestStopTimeoutAndConcurrency(t *testing.T) {
	f := newFixture(t)
	loadFlows(t, f, "vpc", 3)
	m := f.svc.queries()
	bs := &blockingSource{started: make(chan struct{}, 8)}
	m.source = func(string) insights.Source { return bs }
	m.maxConcurrent = 2
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	in := StartQueryInput{LogGroupName: p("vpc"), StartTime: &s, EndTime: &e, QueryString: p("stats count(*)")}
	a := f.startQuery(t, in)
	b := f.startQuery(t, in)
	<-bs.started
	_, err := f.svc.StartQuery(f.ctx, &in)
	wantAWS(t, err, "LimitExceededException", "Account maximum query concurrency limit of [2] reached.")
	running, err := f.svc.DescribeQueries(f.ctx, &DescribeQueriesInput{Status: p(statusRunning)})
	if err != nil || len(running.Queries) == 0 {
		t.Fatalf("DescribeQueries Running: %v %v", running, err)
	}
	if r, _ := f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &a}); r == nil || !r.Success {
		t.Fatal("StopQuery failed")
	}
	if out := f.wait(t, a); out.Status != statusCancelled {
		t.Fatalf("stopped query: %s", out.Status)
	}
	_, err = f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &a})
	wantAWS(t, err, "InvalidParameterException", "is not running")
	// A slot is free again.
	c := f.startQuery(t, in)
	f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &c})
	f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &b})
	f.wait(t, b)
	f.wait(t, c)

	m.timeout = 30 * time.Millisecond
	d := f.startQuery(t, in)
	if out := f.wait(t, d); out.Status != statusTimeout {
		t.Fatalf("timed-out query: %s", out.Status)
	}
	// Close cancels what is still running and waits for it.
	m.timeout = time.Hour
	f.startQuery(t, in)
	<-bs.started
	if err := f.svc.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.StartQuery(f.ctx, &in)
	wantAWS(t, err, "ServiceUnavailableException", "shutting down")
}

func TestDescribeQueries(t *testing.T) {
	f := newFixture(t)
	loadFlows(t, f, "vpc", 3)
	loadFlows(t, f, "other", 3)
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	var ids []string
	for i := range 7 {
		g := "vpc"
		if i%2 == 1 {
			g = "other"
		}
		ids = append(ids, f.startQuery(t, StartQueryInput{LogGroupName: p(g), StartTime: &s, EndTime: &e, QueryString: p("stats count(*) # " + strconv.Itoa(i))}))
		f.advance(time.Second)
	}
	for _, id := range ids {
		f.wait(t, id)
	}
	var seen []string
	var tok *string
	for range 10 {
		out, err := f.svc.DescribeQueries(f.ctx, &DescribeQueriesInput{LogGroupName: p("vpc"), MaxResults: p(int64(2)), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range out.Queries {
			if q.LogGroupName != "vpc" || q.Status != statusComplete || q.QueryDuration == nil || !strings.HasPrefix(q.QueryString, "stats count(*)") {
				t.Errorf("query info %+v", q)
			}
			seen = append(seen, q.QueryID)
		}
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	want := []string{ids[6], ids[4], ids[2], ids[0]} // newest first
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("DescribeQueries pages %v, want %v", seen, want)
	}
	_, err := f.svc.DescribeQueries(f.ctx, &DescribeQueriesInput{Status: p("Done")})
	wantAWS(t, err, "InvalidParameterException", "Member must satisfy enum value set")
	_, err = f.svc.DescribeQueries(f.ctx, &DescribeQueriesInput{LogGroupName: p("missing")})
	wantAWS(t, err, "ResourceNotFoundException", "log group does not exist")
}

func TestGetLogRecordAndFields(t *testing.T) {
	f := newFixture(t)
	evs := loadFlows(t, f, "vpc", 10)
	f.group(t, "json", "app")
	if _, err := f.put(t, "json", "app", ev(t0.Add(-time.Minute), `{"level":"ERROR","req":{"id":7}}`)); err != nil {
		t.Fatal(err)
	}
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	id := f.startQuery(t, StartQueryInput{LogGroupName: p("vpc"), StartTime: &s, EndTime: &e, QueryString: p("fields @message | sort @timestamp asc | limit 1")})
	out := f.wait(t, id)
	ptr, ok := cell(out.Results[0], "@ptr")
	if !ok {
		t.Fatalf("no @ptr in %v", out.Results)
	}
	rec, err := f.svc.GetLogRecord(f.ctx, &GetLogRecordInput{LogRecordPointer: &ptr})
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.Fields(evs[0].Message)
	want := map[string]string{"@message": evs[0].Message, "@logStream": "s1", "@log": "123456789012:vpc",
		"@timestamp": time.UnixMilli(evs[0].Timestamp).UTC().Format("2006-01-02 15:04:05.000"),
		"srcAddr":    tok[3], "bytes": tok[9], "action": tok[12], "interfaceId": tok[2]}
	for k, v := range want {
		if rec.LogRecord[k] != v {
			t.Errorf("logRecord[%s] = %q, want %q", k, rec.LogRecord[k], v)
		}
	}
	if rec.LogRecord["@ingestionTime"] == "" {
		t.Error("no @ingestionTime")
	}
	_, err = f.svc.GetLogRecord(f.ctx, &GetLogRecordInput{LogRecordPointer: p("!!not a pointer")})
	wantAWS(t, err, "InvalidParameterException", "logRecordPointer")

	fields, err := f.svc.GetLogGroupFields(f.ctx, &GetLogGroupFieldsInput{LogGroupName: p("json"), Time: p(t0.Unix())})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, fl := range fields.LogGroupFields {
		got[fl.Name] = fl.Percent
	}
	if got["level"] != 100 || got["req.id"] != 100 || got["@message"] != 100 || got["@timestamp"] != 100 {
		t.Errorf("fields %v", fields.LogGroupFields)
	}
	if !sort.SliceIsSorted(fields.LogGroupFields, func(i, j int) bool { return fields.LogGroupFields[i].Percent > fields.LogGroupFields[j].Percent }) {
		t.Errorf("not sorted by percent: %v", fields.LogGroupFields)
	}
	fields, err = f.svc.GetLogGroupFields(f.ctx, &GetLogGroupFieldsInput{LogGroupIdentifier: p("arn:aws:logs:eu-west-1:123456789012:log-group:vpc")})
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int{}
	for _, fl := range fields.LogGroupFields {
		got[fl.Name] = fl.Percent
	}
	if got["srcAddr"] != 100 || got["logStatus"] != 100 {
		t.Errorf("flow log fields %v", fields.LogGroupFields)
	}
	_, err = f.svc.GetLogGroupFields(f.ctx, &GetLogGroupFieldsInput{LogGroupName: p("missing")})
	wantAWS(t, err, "ResourceNotFoundException", "log group does not exist")
}

func TestRetention(t *testing.T) {
	f := newFixture(t)
	m := f.svc.queries()
	rows := make([][]insights.ResultField, maxRowsKept/3+1)
	add := func(id string, age time.Duration, n int) {
		m.queries[id] = &query{id: id, status: statusComplete, finished: f.now.Add(-age), result: &insights.Result{Rows: rows[:n]}}
	}
	add("expired", resultRetention+time.Minute, 1)
	add("old-big", 3*time.Hour, len(rows))
	add("mid-big", 2*time.Hour, len(rows))
	add("new-big", time.Hour, len(rows))
	m.queries["running"] = &query{id: "running", status: statusRunning}
	m.mu.Lock()
	m.prune(f.now)
	m.mu.Unlock()
	var kept []string
	for id := range m.queries {
		kept = append(kept, id)
	}
	sort.Strings(kept)
	// Past 7 days goes; beyond the row budget the oldest results go; a
	// running query always stays.
	if fmt.Sprint(kept) != "[mid-big new-big running]" {
		t.Fatalf("kept %v", kept)
	}
}

func TestScheduled(t *testing.T) {
	f := newFixture(t)
	loadFlows(t, f, "vpc", 3)
	m := f.svc.queries()
	bs := &blockingSource{started: make(chan struct{}, 8)}
	m.source = func(string) insights.Source { return bs }
	m.running = make(chan struct{}, 1)
	s, e := t0.Add(-time.Hour).Unix(), t0.Unix()
	in := StartQueryInput{LogGroupName: p("vpc"), StartTime: &s, EndTime: &e, QueryString: p("stats count(*)")}
	a := f.startQuery(t, in)
	<-bs.started
	b := f.startQuery(t, in)
	// Only one runs at a time: the second waits, and can be stopped there.
	if out, _ := f.svc.GetQueryResults(f.ctx, &GetQueryResultsInput{QueryID: &b}); out.Status != statusScheduled {
		t.Fatalf("second query is %s", out.Status)
	}
	if out, _ := f.svc.GetQueryResults(f.ctx, &GetQueryResultsInput{QueryID: &a}); out.Status != statusRunning {
		t.Fatalf("first query is %s", out.Status)
	}
	f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &b})
	if out := f.wait(t, b); out.Status != statusCancelled {
		t.Fatalf("stopped scheduled query: %s", out.Status)
	}
	f.svc.StopQuery(f.ctx, &StopQueryInput{QueryID: &a})
	f.wait(t, a)
	// The slot is free again: a new query runs.
	m.source = func(string) insights.Source { return f.store }
	if out := f.wait(t, f.startQuery(t, in)); out.Status != statusComplete || len(out.Results) != 1 {
		t.Fatalf("after the slot freed: %+v", out)
	}
}
