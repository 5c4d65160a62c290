package logs

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/insights"
)

func TestResources(t *testing.T) {
	info := awsapi.RequestInfo{Region: "eu-west-1", AccountID: "123456789012"}
	const g = "arn:aws:logs:eu-west-1:123456789012:log-group:"
	ptr := insights.EncodePtr(StoreKey("eu-west-1", "pg"), 1, 2)
	for _, tc := range []struct {
		op, body string
		want     []string
	}{
		{"CreateLogGroup", `{"logGroupName":"g"}`, []string{g + "g:*"}},
		{"DescribeLogStreams", `{"logGroupName":"g","logStreamNamePrefix":"s"}`, []string{g + "g:*"}},
		{"PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[]}`, []string{g + "g:log-stream:s"}},
		{"CreateLogStream", `{"logGroupName":"g","logStreamName":"s"}`, []string{g + "g:log-stream:s"}},
		{"GetLogEvents", `{"logGroupIdentifier":"arn:aws:logs:us-west-2:123456789012:log-group:g","logStreamName":"s"}`,
			[]string{"arn:aws:logs:us-west-2:123456789012:log-group:g:log-stream:s"}},
		{"FilterLogEvents", `{"logGroupIdentifier":"arn:aws:logs:eu-west-1:123456789012:log-group:g"}`, []string{g + "g:*"}},
		{"DescribeLogGroups", `{}`, []string{g + "*"}},
		{"DescribeLogGroups", `{"logGroupIdentifiers":["a"]}`, []string{g + "*"}},
		{"TagResource", `{"resourceArn":"arn:aws:logs:eu-west-1:123456789012:log-group:g"}`, []string{g + "g"}},
		{"ListTagsForResource", `{"resourceArn":"arn:aws:logs:eu-west-1:123456789012:destination:d"}`, []string{"arn:aws:logs:eu-west-1:123456789012:destination:d"}},
		{"TagLogGroup", `{"logGroupName":"g","tags":{"a":"b"}}`, []string{g + "g:*"}},
		{"StartQuery", `{"logGroupName":"a"}`, []string{g + "a:*"}},
		{"StartQuery", `{"logGroupNames":["a","b"]}`, []string{g + "a:*", g + "b:*"}},
		{"StartQuery", `{"logGroupIdentifiers":["a","arn:aws:logs:us-west-2:123456789012:log-group:b"]}`,
			[]string{g + "a:*", "arn:aws:logs:us-west-2:123456789012:log-group:b:*"}},
		{"StartQuery", `{"queryString":"SOURCE logGroups() | fields @message"}`, []string{g + "*"}},
		{"GetLogRecord", `{"logRecordPointer":"` + ptr + `"}`, []string{g + "pg:*"}},
		{"GetLogRecord", `{"logRecordPointer":"!"}`, []string{g + "*"}},
		{"GetQueryResults", `{"queryId":"q"}`, []string{"*"}},
		{"StopQuery", `{"queryId":"q"}`, []string{"*"}},
		{"DescribeQueries", `{"logGroupName":"g"}`, []string{"*"}},
		{"CreateLogGroup", `not json`, []string{g + "*"}},
		{"CreateLogGroup", `{"logGroupName":5}`, []string{g + "*"}},
		{"StartQuery", `{"logGroupNames":null,"logGroupName":"a"}`, []string{g + "a:*"}},
		{"StartQuery", `{"logGroupName":"a","logGroupName":"b"}`, []string{g + "b:*"}},
		// Member names match exactly, as the operations read them (AWS
		// does; awsapi.DecodeJSON and PutLogEvents' decoder too): a
		// case-folded duplicate must not name the resource authorized
		// while the operation acts on another.
		{"PutLogEvents", `{"logGroupName":"secret","logStreamName":"s","LOGGROUPNAME":"open","logEvents":[]}`, []string{g + "secret:log-stream:s"}},
		{"CreateLogGroup", `{"logGroupName":"secret","LogGroupName":"open"}`, []string{g + "secret:*"}},
		{"StartQuery", `{"logGroupNames":["secret"],"LogGroupNames":["open"]}`, []string{g + "secret:*"}},
		{"GetLogEvents", `{"logGroupName":"secret","logStreamName":"s","logſtreamName":"t"}`, []string{g + "secret:log-stream:s"}},
	} {
		if got := Resources(tc.op, info, []byte(tc.body)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: got %v, want %v", tc.op, tc.body, got, tc.want)
		}
	}
}

// TestResourcesNameTheOperationsGroup: the group Resources authorizes is
// the one the operation decodes, for bodies with case-folded members.
func TestResourcesNameTheOperationsGroup(t *testing.T) {
	info := awsapi.RequestInfo{Region: "eu-west-1", AccountID: "123456789012"}
	body := []byte(`{"logGroupName":"secret","logStreamName":"s","LogGroupName":"open","logEvents":[{"timestamp":1,"message":"m"}]}`)
	var in PutLogEventsInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:logs:eu-west-1:123456789012:log-group:" + *in.LogGroupName + ":log-stream:" + *in.LogStreamName
	if got := Resources("PutLogEvents", info, body); len(got) != 1 || got[0] != want {
		t.Fatalf("PutLogEvents writes to %q; Resources authorizes %v", *in.LogGroupName, got)
	}
	var cin CreateLogGroupInput
	body = []byte(`{"LogGroupName":"open","logGroupName":"secret"}`)
	if err := awsapi.DecodeJSON(body, &cin); err != nil {
		t.Fatal(err)
	}
	if got := Resources("CreateLogGroup", info, body); len(got) != 1 || got[0] != "arn:aws:logs:eu-west-1:123456789012:log-group:"+*cin.LogGroupName+":*" {
		t.Fatalf("CreateLogGroup creates %q; Resources authorizes %v", *cin.LogGroupName, got)
	}
}

// BenchmarkResourcesPutLogEvents: naming the stream of a 10,000-event
// PutLogEvents (what every batch of a restricted key costs before it runs).
func BenchmarkResourcesPutLogEvents(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"logGroupName":"g","logStreamName":"s","logEvents":[`)
	for i := 0; i < 10000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"timestamp":%d,"message":"2 123456789012 eni-0123456789abcdef0 10.0.0.%d 10.0.1.9 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK"}`, 1700000000000+i, i%250)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	info := awsapi.RequestInfo{Region: "eu-west-1", AccountID: "123456789012"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if r := Resources("PutLogEvents", info, body); len(r) != 1 {
			b.Fatal(r)
		}
	}
}
