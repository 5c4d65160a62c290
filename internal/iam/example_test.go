package iam_test

import (
	"fmt"

	"github.com/flowwatch/flowwatch/internal/iam"
)

// The checks delivery makes before each delivery cycle of a flow log to
// CloudWatch Logs (spec §4.2): the role's trust policy, then its
// permissions on the group and the stream.
func ExampleService_AssumableBy() {
	s, _ := iam.Open(iam.Config{AccountID: "123456789012"}) // in memory
	role, _ := s.CreateRole(iam.CreateRoleInput{RoleName: "flowlogsRole",
		AssumeRolePolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`})
	_ = s.PutRolePolicy("flowlogsRole", "delivery",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:*:*:log-group:flows:*"}]}`)

	flowLog := "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0"
	fmt.Println(s.AssumableBy(role.Arn, "vpc-flow-logs.amazonaws.com", "123456789012", flowLog))
	stream := "arn:aws:logs:us-east-1:123456789012:log-group:flows:log-stream:eni-0123456789abcdef0-all"
	ok, _ := s.Authorize(role.Arn, "logs:PutLogEvents", stream, map[string]string{"aws:SourceArn": flowLog})
	fmt.Println(ok)
	ok, reason := s.Authorize(role.Arn, "logs:CreateLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:flows", nil)
	fmt.Println(ok, reason)
	// Output:
	// <nil>
	// true
	// false User: arn:aws:iam::123456789012:role/flowlogsRole is not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:123456789012:log-group:flows because no identity-based policy allows the logs:CreateLogGroup action
}
