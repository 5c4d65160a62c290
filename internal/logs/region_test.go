package logs

import (
	"context"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

func TestStoreKey(t *testing.T) {
	for _, c := range []struct{ region, name, key string }{
		{"us-east-1", "g", "g"},
		{"", "/aws/vpc", "/aws/vpc"},
		{"eu-west-1", "/aws/vpc", "eu-west-1:/aws/vpc"},
	} {
		if k := StoreKey(c.region, c.name); k != c.key {
			t.Errorf("StoreKey(%q, %q) = %q, want %q", c.region, c.name, k, c.key)
		}
		r, n := SplitStoreKey(c.key)
		want := c.region
		if want == "" {
			want = DefaultRegion
		}
		if r != want || n != c.name {
			t.Errorf("SplitStoreKey(%q) = %q, %q", c.key, r, n)
		}
	}
}

// TestRegions: the same name in two regions is two log groups, each
// with its own ARN, data, tags and queries; a group stored before regions
// (a bare store key) is the default region's.
func TestRegions(t *testing.T) {
	f := newFixture(t)
	eu := f.ctx
	us := awsapi.WithInfo(context.Background(), awsapi.RequestInfo{Region: "us-east-1"})
	// A data dir written before regions: a bare key in the store.
	if err := f.store.CreateGroup("legacy", logstore.GroupMeta{CreationTime: t0.UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	for _, ctx := range []context.Context{eu, us} {
		must(f.svc.CreateLogGroup(ctx, &CreateLogGroupInput{LogGroupName: p("g")}))
		must(f.svc.CreateLogStream(ctx, &CreateLogStreamInput{LogGroupName: p("g"), LogStreamName: p("s")}))
	}
	_, err := f.svc.CreateLogGroup(eu, &CreateLogGroupInput{LogGroupName: p("g")})
	wantAWS(t, err, "ResourceAlreadyExistsException", "already exists")
	must(f.svc.PutLogEvents(eu, &PutLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), HasLogEvents: true,
		LogEvents: []logstore.Event{{Timestamp: t0.Add(-time.Minute).UnixMilli(), Message: "in eu-west-1"}}}))

	names := func(ctx context.Context) (out []string) {
		for _, g := range must(f.svc.DescribeLogGroups(ctx, &DescribeLogGroupsInput{})).LogGroups {
			out = append(out, g.LogGroupName+"="+g.Arn)
		}
		return out
	}
	if got := names(eu); len(got) != 1 || got[0] != "g=arn:aws:logs:eu-west-1:123456789012:log-group:g:*" {
		t.Fatalf("eu-west-1 groups %v", got)
	}
	if got := names(us); len(got) != 2 || got[0] != "g=arn:aws:logs:us-east-1:123456789012:log-group:g:*" ||
		got[1] != "legacy=arn:aws:logs:us-east-1:123456789012:log-group:legacy:*" {
		t.Fatalf("us-east-1 groups %v", got)
	}
	events := func(ctx context.Context) int {
		return len(must(f.svc.GetLogEvents(ctx, &GetLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s")})).Events)
	}
	if events(eu) != 1 || events(us) != 0 {
		t.Fatalf("events eu %d us %d", events(eu), events(us))
	}
	// An identifier ARN is resolved in the caller's region only.
	euARN := "arn:aws:logs:eu-west-1:123456789012:log-group:g"
	if n := len(must(f.svc.DescribeLogStreams(eu, &DescribeLogStreamsInput{LogGroupIdentifier: p(euARN)})).LogStreams); n != 1 {
		t.Fatalf("streams by ARN: %d", n)
	}
	_, err = f.svc.DescribeLogStreams(us, &DescribeLogStreamsInput{LogGroupIdentifier: p(euARN)})
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	if n := len(must(f.svc.DescribeLogGroups(us, &DescribeLogGroupsInput{LogGroupIdentifiers: []string{euARN}})).LogGroups); n != 0 {
		t.Fatalf("us-east-1 describes an eu-west-1 ARN: %d", n)
	}

	// Tags and retention belong to one region's group.
	must(f.svc.TagResource(eu, &TagResourceInput{ResourceArn: p(euARN), Tags: map[string]string{"k": "eu"}}))
	_, err = f.svc.TagResource(us, &TagResourceInput{ResourceArn: p(euARN), Tags: map[string]string{"k": "us"}})
	wantAWS(t, err, "ResourceNotFoundException", "is in region eu-west-1")
	if tags := must(f.svc.ListTagsLogGroup(us, &ListTagsLogGroupInput{LogGroupName: p("g")})).Tags; len(tags) != 0 {
		t.Fatalf("us-east-1 tags %v", tags)
	}
	must(f.svc.PutRetentionPolicy(us, &PutRetentionPolicyInput{LogGroupName: p("g"), RetentionInDays: p(int64(7))}))
	if g := must(f.svc.DescribeLogGroups(eu, &DescribeLogGroupsInput{})).LogGroups[0]; g.RetentionInDays != nil {
		t.Fatal("retention set in us-east-1 shows in eu-west-1")
	}

	// Queries: each region reads its own group; ids, @ptr and
	// DescribeQueries do not cross regions.
	id := f.startQuery(t, StartQueryInput{LogGroupName: p("g"), StartTime: p(int64(0)), EndTime: p(t0.Unix()), QueryString: p("fields @message, @log")})
	res := f.wait(t, id)
	if len(res.Results) != 1 {
		t.Fatalf("eu-west-1 query rows %v", res.Results)
	}
	if v, _ := cell(res.Results[0], "@log"); v != "123456789012:g" {
		t.Fatalf("@log %q", v)
	}
	ptr, _ := cell(res.Results[0], "@ptr")
	rec := must(f.svc.GetLogRecord(eu, &GetLogRecordInput{LogRecordPointer: &ptr})).LogRecord
	if rec["@message"] != "in eu-west-1" || rec["@log"] != "123456789012:g" {
		t.Fatalf("record %v", rec)
	}
	_, err = f.svc.GetLogRecord(us, &GetLogRecordInput{LogRecordPointer: &ptr})
	wantAWS(t, err, "InvalidParameterException", "logRecordPointer is not valid")
	_, err = f.svc.GetQueryResults(us, &GetQueryResultsInput{QueryID: &id})
	wantAWS(t, err, "ResourceNotFoundException", "query does not exist")
	_, err = f.svc.StopQuery(us, &StopQueryInput{QueryID: &id})
	wantAWS(t, err, "ResourceNotFoundException", "query does not exist")
	if qs := must(f.svc.DescribeQueries(us, &DescribeQueriesInput{})).Queries; len(qs) != 0 {
		t.Fatalf("us-east-1 sees %d eu-west-1 queries", len(qs))
	}
	if qs := must(f.svc.DescribeQueries(eu, &DescribeQueriesInput{LogGroupName: p("g")})).Queries; len(qs) != 1 || qs[0].LogGroupName != "g" {
		t.Fatalf("eu-west-1 queries %+v", qs)
	}
	out, err := f.svc.StartQuery(us, &StartQueryInput{LogGroupIdentifiers: []string{euARN}, StartTime: p(int64(0)), EndTime: p(t0.Unix()), QueryString: p("fields @message")})
	if err == nil {
		t.Fatalf("a us-east-1 query of an eu-west-1 ARN started: %v", out)
	}
	wantAWS(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	// SOURCE selects among the caller's region's groups only.
	src := func(ctx context.Context) []string {
		id := must(f.svc.StartQuery(ctx, &StartQueryInput{StartTime: p(int64(0)), EndTime: p(t0.Unix()),
			QueryString: p("SOURCE logGroups() | fields @log")})).QueryID
		var logs []string
		for _, row := range f.waitIn(t, ctx, id).Results {
			v, _ := cell(row, "@log")
			logs = append(logs, v)
		}
		return logs
	}
	if got := src(eu); len(got) != 1 || got[0] != "123456789012:g" {
		t.Fatalf("SOURCE in eu-west-1: %v", got)
	}
	if got := src(us); len(got) != 0 {
		t.Fatalf("SOURCE in us-east-1: %v", got)
	}
}

// TestRegionKeyIdentifier: a logGroupIdentifier that is not an ARN is a
// name, and names cannot contain ':'; "eu-west-1:g" sent to us-east-1 must
// not reach eu-west-1's group g through its store key.
func TestRegionKeyIdentifier(t *testing.T) {
	f := newFixture(t)
	eu := f.ctx
	us := awsapi.WithInfo(context.Background(), awsapi.RequestInfo{Region: "us-east-1"})
	must(f.svc.CreateLogGroup(eu, &CreateLogGroupInput{LogGroupName: p("g")}))
	must(f.svc.CreateLogStream(eu, &CreateLogStreamInput{LogGroupName: p("g"), LogStreamName: p("s")}))
	must(f.svc.PutLogEvents(eu, &PutLogEventsInput{LogGroupName: p("g"), LogStreamName: p("s"), HasLogEvents: true,
		LogEvents: []logstore.Event{{Timestamp: t0.Add(-time.Minute).UnixMilli(), Message: "secret"}}}))
	id := "eu-west-1:g"
	if out, err := f.svc.DescribeLogStreams(us, &DescribeLogStreamsInput{LogGroupIdentifier: &id}); err == nil {
		t.Errorf("DescribeLogStreams of %q in us-east-1: %d streams", id, len(out.LogStreams))
	}
	if out, err := f.svc.GetLogEvents(us, &GetLogEventsInput{LogGroupIdentifier: &id, LogStreamName: p("s")}); err == nil {
		t.Errorf("GetLogEvents of %q in us-east-1: %d events", id, len(out.Events))
	}
	if _, err := f.svc.GetLogGroupFields(us, &GetLogGroupFieldsInput{LogGroupIdentifier: &id}); err == nil {
		t.Errorf("GetLogGroupFields of %q in us-east-1 succeeded", id)
	}
	if _, err := f.svc.StartQuery(us, &StartQueryInput{LogGroupIdentifiers: []string{id}, StartTime: p(int64(0)), EndTime: p(t0.Unix()), QueryString: p("fields @message")}); err == nil {
		t.Errorf("StartQuery of %q in us-east-1 started", id)
	}
}

// TestARNPartition: only the "aws" partition's ARNs name this account's
// groups. IAM matches ARNs as strings, so a Deny on
// arn:aws:logs:…:log-group:g:* must not be sidestepped by naming the group
// as arn:aws-cn:logs:…:log-group:g.
func TestARNPartition(t *testing.T) {
	f := newFixture(t)
	must(f.svc.CreateLogGroup(f.ctx, &CreateLogGroupInput{LogGroupName: p("g")}))
	for _, arn := range []string{"arn:aws-cn:logs:eu-west-1:123456789012:log-group:g", "arn::logs:eu-west-1:123456789012:log-group:g"} {
		if out, err := f.svc.DescribeLogStreams(f.ctx, &DescribeLogStreamsInput{LogGroupIdentifier: p(arn)}); err == nil {
			t.Errorf("DescribeLogStreams of %s: %+v", arn, out)
		}
		if _, err := f.svc.TagResource(f.ctx, &TagResourceInput{ResourceArn: p(arn), Tags: map[string]string{"k": "v"}}); err == nil {
			t.Errorf("TagResource of %s succeeded", arn)
		}
		if n := len(must(f.svc.DescribeLogGroups(f.ctx, &DescribeLogGroupsInput{LogGroupIdentifiers: []string{arn}})).LogGroups); n != 0 {
			t.Errorf("DescribeLogGroups of %s: %d groups", arn, n)
		}
	}
}
