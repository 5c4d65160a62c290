package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

func sdkClient(url, key, secret string) *cwl.Client {
	return cwl.New(cwl.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1, // errors surface as they are, and no event is sent twice
		HTTPClient:       &http.Client{Transport: ownBody{http.DefaultTransport}},
	})
}

// ownBody gives the transport its own copy of each request body. The SDK
// closes its body as soon as the response arrives, and net/http may still be
// reading it (the check for bytes beyond Content-Length); a server on
// loopback answers fast enough to win that race, and the transport then
// closes the connection under the response: "use of closed network
// connection" on a 200 (aws/aws-sdk-go-v2#2737). Real AWS is never that
// fast; without retries, tests must not depend on it.
type ownBody struct{ next http.RoundTripper }

func (o ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.next.RoundTrip(r)
	}
	buf, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(buf))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	c.ContentLength = int64(len(buf))
	return o.next.RoundTrip(c)
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("got %s %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func TestSDK(t *testing.T) {
	srv := startServer(t, "")
	c := sdkClient(srv.URL, accessKey, secretKey)
	ctx := context.Background()
	g, s := aws.String("/flowwatch/sdk"), aws.String("eni-0123456789abcdef0-all")

	_, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g, Tags: map[string]string{"team": "net"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g})
	wantAPIError(t, err, "ResourceAlreadyExistsException", "The specified log group already exists")
	var rae *types.ResourceAlreadyExistsException
	if !errors.As(err, &rae) {
		t.Fatalf("not a typed ResourceAlreadyExistsException: %T", err)
	}
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("has space")})
	wantAPIError(t, err, "InvalidParameterException", "1 validation error detected: Value 'has space' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern")

	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("nope"), LogStreamName: s})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")

	now := time.Now().UnixMilli()
	var events []types.InputLogEvent
	for i := 0; i < 100; i++ {
		events = append(events, types.InputLogEvent{Timestamp: aws.Int64(now - int64(100-i)), Message: aws.String(fmt.Sprintf("2 123456789012 eni-1 10.0.0.%d 10.0.1.1 443 %d 6 10 840 1620000000 1620000060 ACCEPT OK", i, 40000+i))})
	}
	events = append([]types.InputLogEvent{{Timestamp: aws.Int64(now - 15*86400000), Message: aws.String("ancient")}}, events...)
	events = append(events, types.InputLogEvent{Timestamp: aws.Int64(now + 3*3600000), Message: aws.String("future")})
	put, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: events, SequenceToken: aws.String("ignored")})
	if err != nil {
		t.Fatal(err)
	}
	r := put.RejectedLogEventsInfo
	if r == nil || aws.ToInt32(r.TooOldLogEventEndIndex) != 1 || aws.ToInt32(r.TooNewLogEventStartIndex) != 101 || r.ExpiredLogEventEndIndex != nil {
		t.Fatalf("rejected info %+v", r)
	}
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now), Message: aws.String("b")}, {Timestamp: aws.Int64(now - 1), Message: aws.String("a")}}})
	wantAPIError(t, err, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: aws.String("nostream"), LogEvents: events[1:2]})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")

	// DescribeLogStreams shows what was stored.
	ds, err := c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	st := ds.LogStreams[0]
	if len(ds.LogStreams) != 1 || aws.ToInt64(st.FirstEventTimestamp) != now-100 || aws.ToInt64(st.LastEventTimestamp) != now-1 || st.LastIngestionTime == nil {
		t.Fatalf("stream %+v", st)
	}

	// GetLogEvents with the SDK paginator, which stops when the token repeats.
	pg := cwl.NewGetLogEventsPaginator(c, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true)},
		func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken, o.Limit = true, 30 })
	var got []string
	for pages := 0; pg.HasMorePages(); pages++ {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		if pages > 10 {
			t.Fatal("GetLogEvents paging does not end")
		}
	}
	if len(got) != 100 || !strings.Contains(got[0], "10.0.0.0 ") || !strings.Contains(got[99], "10.0.0.99 ") {
		t.Fatalf("GetLogEvents returned %d events", len(got))
	}

	// FilterLogEvents with a space-delimited pattern, paged.
	fp := cwl.NewFilterLogEventsPaginator(c, &cwl.FilterLogEventsInput{LogGroupName: g, Limit: aws.Int32(7),
		FilterPattern: aws.String("[version, account, eni, src, dst, srcport = 443, dstport > 40089, ...]")})
	var matched []types.FilteredLogEvent
	for fp.HasMorePages() {
		out, err := fp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out.SearchedLogStreams == nil {
			t.Fatal("searchedLogStreams missing")
		}
		matched = append(matched, out.Events...)
	}
	if len(matched) != 10 || aws.ToString(matched[0].LogStreamName) != *s || aws.ToString(matched[0].EventId) == "" {
		t.Fatalf("filter matched %d", len(matched))
	}
	newest, err := c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: g, StartFromHead: aws.Bool(false),
		StartTime: aws.Int64(now - 3600000), Limit: aws.Int32(2)})
	if err != nil || len(newest.Events) != 2 || aws.ToInt64(newest.Events[0].Timestamp) != now-1 || aws.ToInt64(newest.Events[1].Timestamp) != now-2 || newest.NextToken == nil {
		t.Fatalf("newest first: %+v %v", newest, err)
	}
	_, err = c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: g, FilterPattern: aws.String(`{ $.a = `)})
	wantAPIError(t, err, "InvalidParameterException", "Invalid filter pattern")

	// DescribeLogGroups with the paginator over many groups.
	for i := 0; i < 12; i++ {
		if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(fmt.Sprintf("page-%02d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	gp := cwl.NewDescribeLogGroupsPaginator(c, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("page-"), Limit: aws.Int32(5)})
	var names []string
	for gp.HasMorePages() {
		out, err := gp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, lg := range out.LogGroups {
			names = append(names, aws.ToString(lg.LogGroupName))
		}
	}
	if len(names) != 12 || names[0] != "page-00" || names[11] != "page-11" {
		t.Fatal(names)
	}
	dg, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if err != nil {
		t.Fatal(err)
	}
	lg := dg.LogGroups[0]
	if aws.ToString(lg.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:/flowwatch/sdk:*" || aws.ToInt64(lg.StoredBytes) == 0 || lg.RetentionInDays != nil {
		t.Fatalf("group %+v", lg)
	}

	// Retention.
	if _, err := c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(31)})
	wantAPIError(t, err, "InvalidParameterException", "Member must satisfy enum value set")
	dg, _ = c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if aws.ToInt32(dg.LogGroups[0].RetentionInDays) != 30 {
		t.Fatal("retention not shown")
	}
	if _, err := c.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}

	// Tags, both families.
	arn := "arn:aws:logs:us-east-1:000000000000:log-group:/flowwatch/sdk"
	if _, err := c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &cwl.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(lt.Tags) != 1 || lt.Tags["env"] != "test" {
		t.Fatalf("tags %v %v", lt, err)
	}
	//lint:ignore SA1019 the legacy tagging operations are part of the API we serve
	if _, err := c.TagLogGroup(ctx, &cwl.TagLogGroupInput{LogGroupName: g, Tags: map[string]string{"old": "api"}}); err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the legacy tagging operations are part of the API we serve
	if _, err := c.UntagLogGroup(ctx, &cwl.UntagLogGroupInput{LogGroupName: g, Tags: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the legacy tagging operations are part of the API we serve
	ltg, err := c.ListTagsLogGroup(ctx, &cwl.ListTagsLogGroupInput{LogGroupName: g})
	if err != nil || len(ltg.Tags) != 1 || ltg.Tags["old"] != "api" {
		t.Fatalf("legacy tags %v %v", ltg, err)
	}
	_, err = c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(arn + "x"), Tags: map[string]string{"a": "b"}})
	wantAPIError(t, err, "ResourceNotFoundException", "log group")

	// Deletes.
	if _, err := c.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: g, LogStreamName: s})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	if _, err := c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: g})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")

	// Credentials.
	_, err = sdkClient(srv.URL, accessKey, "wrong-secret").DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	wantAPIError(t, err, "InvalidSignatureException", "The request signature we calculated does not match")
	_, err = sdkClient(srv.URL, "AKIAUNKNOWN000000000", secretKey).DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	wantAPIError(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")

	srv.stop(t)
}
