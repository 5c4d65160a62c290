package iam

import (
	"errors"
	"testing"
)

const (
	trustFlowLogs = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	permsFlowLogs = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents","logs:DescribeLogGroups","logs:DescribeLogStreams"],"Resource":"*"}]}`
)

func TestParsePolicyValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind PolicyKind
		doc  string
	}{
		{"seed trust", TrustPolicy, trustFlowLogs},
		{"seed perms", IdentityPolicy, permsFlowLogs},
		{"single statement object", IdentityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":["arn:aws:logs:*:*:log-group:x:*"]}}`},
		{"no version (2008-10-17)", IdentityPolicy, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		{"old version", IdentityPolicy, `{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}]}`},
		{"conditions of every value type", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"aws:EpochTime":[1,2]},"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}`},
		{"trust with conditions", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["vpc-flow-logs.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-*"}}}]}`},
		{"trust principal star and accounts", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:user/a"]},"Action":"sts:AssumeRole"}]}`},
		{"star vendor", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*:Describe*","Resource":"*"}]}`},
		{"empty unknown condition operator", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"Frob":{}}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.doc, tc.kind)
			if err != nil || len(p.Statements) == 0 {
				t.Fatalf("%v", err)
			}
		})
	}
}

func TestParsePolicyMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind PolicyKind
		doc  string
		want string
	}{
		{"not json", IdentityPolicy, `{"Version":`, msgSyntax},
		{"array", IdentityPolicy, `[]`, msgSyntax},
		{"trailing data", IdentityPolicy, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}`, msgSyntax},
		{"unknown top element", IdentityPolicy, `{"Version":"2012-10-17","Statment":[]}`, msgSyntax},
		{"bad version", IdentityPolicy, `{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, msgSyntax},
		{"no statement", IdentityPolicy, `{"Version":"2012-10-17"}`, msgSyntax},
		{"empty statement list", IdentityPolicy, `{"Version":"2012-10-17","Statement":[]}`, msgSyntax},
		{"no effect", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}`, msgSyntax},
		{"bad effect", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`, msgSyntax},
		{"effect case", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, msgLegacy},
		{"unknown statement element", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"*","Resource":"*"}]}`, msgSyntax},
		{"action and notaction", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, msgSyntax},
		{"action number", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`, msgSyntax},
		{"no action", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, msgNoActions},
		{"empty action list", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, msgNoActions},
		{"no resource", IdentityPolicy, permsFlowLogs[:len(permsFlowLogs)-len(`,"Resource":"*"}]}`)] + `}]}`, msgNoResources},
		{"empty resource list", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":[]}]}`, msgNoResources},
		{"principal in identity policy", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, msgPrincipalInID},
		{"duplicate sid", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"*","Resource":"*"}]}`, msgSidUnique},
		{"action without vendor", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"CreateLogGroup","Resource":"*"}]}`, msgVendor},
		{"action two colons", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:a:b","Resource":"*"}]}`, msgOneColon},
		{"bad vendor", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lo gs:Put","Resource":"*"}]}`, "Vendor lo gs is not valid"},
		{"resource not arn", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"my-group"}]}`, `Resource my-group must be in ARN format or "*".`},
		{"resource vendor wildcard", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:lo*:us-east-1:1:x"}]}`, "Resource vendor must be fully qualified and cannot contain regexes."},
		{"condition key without vendor", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"SourceAccount":"1"}}}]}`, msgVendor},
		{"unknown condition operator", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringIs":{"aws:x":"1"}}}]}`, msgSyntax},
		{"condition value object", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*","Condition":{"StringEquals":{"aws:x":{"a":1}}}}]}`, msgSyntax},
		{"trust with resource", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}`, msgTrustResource},
		{"trust without principal", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, msgTrustPrincipal},
		{"trust non-sts action", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"logs:PutLogEvents"}]}`, msgTrustActions},
		{"trust bad principal type", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Svc":"x"},"Action":"sts:AssumeRole"}]}`, `Invalid principal in policy: "Svc"`},
		{"trust bad AWS principal", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}]}`, `Invalid principal in policy: "AWS":"alice"`},
		{"trust principal string", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"vpc-flow-logs.amazonaws.com","Action":"sts:AssumeRole"}]}`, `Invalid principal in policy: "vpc-flow-logs.amazonaws.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(tc.doc, tc.kind)
			var m *MalformedError
			if !errors.As(err, &m) || m.Message != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !IsMalformed(err) {
				t.Fatal("IsMalformed")
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{trustFlowLogs, permsFlowLogs, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:x":true}}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, kind := range []PolicyKind{IdentityPolicy, TrustPolicy} {
			p, err := ParsePolicy(doc, kind)
			if (p == nil) == (err == nil) {
				t.Fatalf("policy %v with error %v", p, err)
			}
			if err != nil && !IsMalformed(err) {
				t.Fatalf("untyped error %v", err)
			}
			if p != nil {
				Evaluate(Request{Action: "logs:PutLogEvents", Resource: "arn:aws:logs:us-east-1:1:log-group:g:*",
					PrincipalType: "Service", Principal: "vpc-flow-logs.amazonaws.com", Context: map[string]string{"aws:SourceAccount": "1"}}, p)
			}
		}
	})
}
