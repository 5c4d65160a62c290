package ec2

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// FuzzServe feeds arbitrary form bodies to the EC2 front end: it must never
// panic, and must answer either an XML response of the action or an EC2
// error body with a 4xx status.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"Action=DescribeVpcs&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-*",
		"Action=CreateFlowLogs&ResourceType=VPC&ResourceId.1=" + testVPC + "&TrafficType=ALL&LogGroupName=g&DeliverLogsPermissionArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&LogFormat=%24%7Bversion%7D",
		"Action=DescribeFlowLogs&MaxResults=5&NextToken=abc",
		"Action=DeleteFlowLogs&FlowLogId.1=fl-1&FlowLogId.99999999999999999999=x",
		"Action=DescribeNetworkInterfaces&Filter.1.Name=tag:Name&Filter.1.Value.1=%5C",
		"Action=CreateTags&ResourceId.1=fl-0&Tag.1.Key=a",
		"%zz",
		"Action=FlowwatchRegisterHost&InstanceId=i-00000000000000001&NetworkInterface.1.Name=eth0&NetworkInterface.1.Address.1=10.0.0.1%2F24",
		"Action=FlowwatchDeregisterHost&InstanceId=i-00000000000000001",
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		w := httptest.NewRecorder()
		info := awsapi.RequestInfo{RequestID: "r", Region: "us-east-1"}
		if err := fx.svc.Serve(w, r, []byte(body), info); err != nil {
			ae := awsapi.AsError(err)
			if ae == nil {
				t.Fatalf("%q: non-AWS error %v", body, err)
			}
			w = httptest.NewRecorder()
			fx.svc.WriteError(w, ae, "r")
			if w.Code < 400 || w.Code >= 500 {
				t.Fatalf("%q: status %d for %v", body, w.Code, ae)
			}
		}
		var anyXML struct{ XMLName xml.Name }
		if err := xml.Unmarshal(w.Body.Bytes(), &anyXML); err != nil {
			t.Fatalf("%q: response is not XML: %v\n%s", body, err, w.Body)
		}
	})
}
