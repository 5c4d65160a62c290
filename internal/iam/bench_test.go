package iam

import (
	"testing"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// The cost policies add to each request of an IAM user (the delivery path
// pays AssumableBy + Authorize once per cycle).
func BenchmarkAuthorizeRequest(b *testing.B) {
	s := newTestService(b, "")
	_, _ = s.CreateUser("u", "", nil, "")
	ak, _, _ := s.CreateAccessKey("u")
	_ = s.PutUserPolicy("u", "p", permsFlowLogs)
	_ = s.PutUserPolicy("u", "deny", stmt(`{"Effect":"Deny","Action":"logs:Delete*","Resource":"arn:aws:logs:*:*:log-group:prod-*"}`))
	a := s.RequestAuthorizer()
	info := awsapi.RequestInfo{AccessKeyID: ak.AccessKeyID, Region: "us-east-1"}
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Authorize(info, "logs:PutLogEvents", streamARN); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssumableBy(b *testing.B) {
	s := newTestService(b, "")
	tight := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-*"}}}]}`
	r, _ := s.CreateRole(CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: tight})
	fl := "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0"
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AssumableBy(r.Arn, "vpc-flow-logs.amazonaws.com", "123456789012", fl); err != nil {
			b.Fatal(err)
		}
	}
}
