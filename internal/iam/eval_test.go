package iam

import (
	"errors"
	"strings"
	"testing"
)

func mustPolicy(t *testing.T, doc string, kind PolicyKind) *Policy {
	t.Helper()
	p, err := ParsePolicy(doc, kind)
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return p
}

func stmt(body string) string { return `{"Version":"2012-10-17","Statement":[` + body + `]}` }

const (
	groupARN  = "arn:aws:logs:us-east-1:123456789012:log-group:flow:*"
	streamARN = "arn:aws:logs:us-east-1:123456789012:log-group:flow:log-stream:eni-0123456789abcdef0-all"
)

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies []string
		action   string
		resource string
		ctx      map[string]string
		want     Decision
	}{
		{"no policies: implicit deny", nil, "logs:PutLogEvents", streamARN, nil, ImplicitDeny},
		{"seed permissions", []string{permsFlowLogs}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"action case-insensitive", []string{stmt(`{"Effect":"Allow","Action":"LOGS:putlogevents","Resource":"*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"action not listed", []string{permsFlowLogs}, "logs:DeleteLogGroup", groupARN, nil, ImplicitDeny},
		{"action prefix wildcard", []string{stmt(`{"Effect":"Allow","Action":"logs:Put*","Resource":"*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"action ? wildcard", []string{stmt(`{"Effect":"Allow","Action":"logs:?utLogEvents","Resource":"*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"action wildcard other service", []string{stmt(`{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`)}, "logs:PutLogEvents", streamARN, nil, ImplicitDeny},
		{"star action", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}, "iam:CreateRole", "arn:aws:iam::123456789012:role/r", nil, Allowed},
		{"explicit deny wins", []string{permsFlowLogs, stmt(`{"Effect":"Deny","Action":"logs:PutLogEvents","Resource":"*"}`)}, "logs:PutLogEvents", streamARN, nil, ExplicitDeny},
		{"deny wins within one policy", []string{stmt(`{"Effect":"Deny","Action":"logs:*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}`)}, "logs:CreateLogGroup", groupARN, nil, ExplicitDeny},
		{"deny not matching leaves allow", []string{permsFlowLogs, stmt(`{"Effect":"Deny","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:*:*:log-group:other:*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"group ARN without :* does not cover streams", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:flow"}`)}, "logs:PutLogEvents", streamARN, nil, ImplicitDeny},
		{"group ARN with :* covers streams", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:flow:*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"log-stream wildcard", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:123456789012:log-group:flow:log-stream:*"}`)}, "logs:PutLogEvents", streamARN, nil, Allowed},
		{"resource case-sensitive", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:FLOW:*"}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"resource ? wildcard", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:fl?w:*"}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"resource other account", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:999999999999:*"}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"NotAction allows the rest", []string{stmt(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"NotAction excludes", []string{stmt(`{"Effect":"Allow","NotAction":["iam:*","logs:Create*"],"Resource":"*"}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"NotResource allows others", []string{stmt(`{"Effect":"Allow","Action":"logs:*","NotResource":"arn:aws:logs:*:*:log-group:secret:*"}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"NotResource excludes", []string{stmt(`{"Effect":"Allow","Action":"logs:*","NotResource":"arn:aws:logs:*:*:log-group:flow:*"}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"deny with NotResource", []string{permsFlowLogs, stmt(`{"Effect":"Deny","Action":"*","NotResource":"arn:aws:logs:*:*:log-group:ok:*"}`)}, "logs:CreateLogGroup", groupARN, nil, ExplicitDeny},
		{"StringEquals holds", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "123456789012"}, Allowed},
		{"StringEquals key case-insensitive", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"AWS:SOURCEACCOUNT":"123456789012"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "123456789012"}, Allowed},
		{"StringEquals fails", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "999999999999"}, ImplicitDeny},
		{"StringEquals values OR-ed", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":["1","999999999999"]}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "999999999999"}, Allowed},
		{"absent key fails positive operator", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"IfExists with absent key", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"1"}}}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"StringNotEquals with absent key holds", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":"1"}}}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"StringNotEquals blocks", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":["1","2"]}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "2"}, ImplicitDeny},
		{"StringLike", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringLike":{"aws:SourceArn":"arn:aws:ec2:*:123456789012:vpc-flow-log/fl-*"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0abc"}, Allowed},
		{"StringEquals values case-sensitive", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"Alice"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:username": "alice"}, ImplicitDeny},
		{"StringEqualsIgnoreCase", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:username":"Alice"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:username": "alice"}, Allowed},
		{"ArnLike segment-wise", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}, Allowed},
		{"ArnLike wrong account", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ec2:*:123456789012:vpc-flow-log/*"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:999999999999:vpc-flow-log/fl-1"}, ImplicitDeny},
		{"ArnLike star does not span segments", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:*:123456789012:vpc-flow-log/*"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}, ImplicitDeny},
		{"ArnEquals exact", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}, Allowed},
		{"ArnNotLike blocks", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:ec2:*:*:vpc-flow-log/*"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}, ImplicitDeny},
		{"conditions AND-ed", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ec2:*:*:vpc-flow-log/fl-2"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceAccount": "123456789012", "aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1"}, ImplicitDeny},
		{"Bool", []string{stmt(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}},{"Effect":"Allow","Action":"*","Resource":"*"}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SecureTransport": "false"}, ExplicitDeny},
		{"ForAllValues with absent key", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}}`)}, "logs:TagResource", groupARN, nil, Allowed},
		{"ForAnyValue with absent key", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}}`)}, "logs:TagResource", groupARN, nil, ImplicitDeny},
		{"Null true when absent", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:SourceArn":"true"}}}`)}, "logs:CreateLogGroup", groupARN, nil, Allowed},
		{"Null false when absent", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:SourceArn":"false"}}}`)}, "logs:CreateLogGroup", groupARN, nil, ImplicitDeny},
		{"NumericLessThan", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:EpochTime":2000000000}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:EpochTime": "1800000000"}, Allowed},
		{"DateGreaterThan", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:CurrentTime": "2026-11-23T12:00:00Z"}, ImplicitDeny},
		{"IpAddress", []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:SourceIp": "10.1.2.3"}, Allowed},
		{"policy variable", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}:*"}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:username": "flow"}, Allowed},
		{"policy variable other user", []string{stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}:*"}`)}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:username": "bob"}, ImplicitDeny},
		{"no variables in 2008-10-17", []string{`{"Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}:*"}]}`}, "logs:CreateLogGroup", groupARN, map[string]string{"aws:username": "flow"}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Policy
			for _, d := range tc.policies {
				ps = append(ps, mustPolicy(t, d, IdentityPolicy))
			}
			if got := Evaluate(Request{Action: tc.action, Resource: tc.resource, Context: tc.ctx}, ps...); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvaluateTrust(t *testing.T) {
	withConds := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-*"}}}]}`
	accounts := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`
	ctx := map[string]string{"aws:SourceAccount": "123456789012", "aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123"}
	for _, tc := range []struct {
		name, doc, typ, principal string
		ctx                       map[string]string
		want                      Decision
	}{
		{"service principal", trustFlowLogs, "Service", "vpc-flow-logs.amazonaws.com", nil, Allowed},
		{"other service", trustFlowLogs, "Service", "ec2.amazonaws.com", nil, ImplicitDeny},
		{"principal type matters", trustFlowLogs, "AWS", "vpc-flow-logs.amazonaws.com", nil, ImplicitDeny},
		{"confused deputy conditions hold", withConds, "Service", "vpc-flow-logs.amazonaws.com", ctx, Allowed},
		{"conditions without context", withConds, "Service", "vpc-flow-logs.amazonaws.com", nil, ImplicitDeny},
		{"account id covers its principals", accounts, "AWS", "arn:aws:iam::123456789012:user/alice", nil, Allowed},
		{"other account", accounts, "AWS", "arn:aws:iam::999999999999:user/alice", nil, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.doc, TrustPolicy)
			req := Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/r", PrincipalType: tc.typ, Principal: tc.principal, Context: tc.ctx}
			if got := Evaluate(req, p); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "anything:at/all", true}, {"a*c", "abbbc", true}, {"a*c", "abbb", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*:log-stream:*", "x:log-stream:y", true},
		{"a*b*c", "a-b-b-c", true}, {"a*b*c", "a-c-b", false}, {"", "", true}, {"", "x", false},
	} {
		if got := match(tc.p, tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
	if !matchFold("LOGS:Put*", "logs:PutLogEvents") || match("LOGS:Put*", "logs:PutLogEvents") {
		t.Error("case folding")
	}
}

func TestAssumableByAndAuthorize(t *testing.T) {
	s := newTestService(t, "")
	r, err := s.CreateRole(CreateRoleInput{RoleName: "flowlogsRole", Path: "/svc/", AssumeRolePolicyDocument: trustFlowLogs})
	if err != nil {
		t.Fatal(err)
	}
	if r.Arn != "arn:aws:iam::123456789012:role/svc/flowlogsRole" {
		t.Fatal(r.Arn)
	}
	flArn := "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0"
	if err := s.AssumableBy(r.Arn, "vpc-flow-logs.amazonaws.com", "123456789012", flArn); err != nil {
		t.Fatal(err)
	}
	if err := s.AssumableBy(r.Arn, "ec2.amazonaws.com", "123456789012", flArn); !errors.Is(err, ErrNotAssumable) {
		t.Fatalf("other service: %v", err)
	}
	if err := s.AssumableBy("arn:aws:iam::123456789012:role/flowlogsRole", "vpc-flow-logs.amazonaws.com", "", ""); !errors.Is(err, ErrNoSuchEntity) {
		t.Fatalf("ARN without the role's path: %v", err)
	}
	// Tightened after the flow log exists (seed workflow): evaluated at
	// each call.
	tight := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0"}}}]}`
	if err := s.UpdateAssumeRolePolicy("flowlogsrole", tight); err != nil {
		t.Fatal(err)
	}
	if err := s.AssumableBy(r.Arn, "vpc-flow-logs.amazonaws.com", "123456789012", flArn); err != nil {
		t.Fatal(err)
	}
	if err := s.AssumableBy(r.Arn, "vpc-flow-logs.amazonaws.com", "123456789012", flArn+"1"); !errors.Is(err, ErrNotAssumable) {
		t.Fatalf("other flow log: %v", err)
	}

	ok, reason := s.Authorize(r.Arn, "logs:PutLogEvents", streamARN, nil)
	if ok || reason != "User: arn:aws:iam::123456789012:role/svc/flowlogsRole is not authorized to perform: logs:PutLogEvents on resource: "+streamARN+" because no identity-based policy allows the logs:PutLogEvents action" {
		t.Fatalf("no policy: %v %q", ok, reason)
	}
	if err := s.PutRolePolicy("flowlogsRole", "delivery", permsFlowLogs); err != nil {
		t.Fatal(err)
	}
	if ok, reason := s.Authorize(r.Arn, "logs:PutLogEvents", streamARN, nil); !ok {
		t.Fatal(reason)
	}
	if err := s.PutRolePolicy("flowlogsRole", "deny", stmt(`{"Effect":"Deny","Action":"logs:PutLogEvents","Resource":"*"}`)); err != nil {
		t.Fatal(err)
	}
	if ok, reason := s.Authorize(r.Arn, "logs:PutLogEvents", streamARN, nil); ok || !strings.HasSuffix(reason, "with an explicit deny in an identity-based policy") {
		t.Fatalf("deny: %v %q", ok, reason)
	}
	if ok, _ := s.Authorize("arn:aws:iam::123456789012:role/nope", "logs:PutLogEvents", streamARN, nil); ok {
		t.Fatal("unknown principal allowed")
	}
}
