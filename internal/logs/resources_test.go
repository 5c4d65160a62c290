package logs

import (
	"reflect"
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
	} {
		if got := Resources(tc.op, info, []byte(tc.body)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: got %v, want %v", tc.op, tc.body, got, tc.want)
		}
	}
}
