package iam

import (
	"net/url"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

func TestManagedPolicies(t *testing.T) {
	dir := t.TempDir()
	s := newTestService(t, dir)
	q := s.QueryService()
	role, _ := s.CreateRole(CreateRoleInput{RoleName: "flowlogsRole", AssumeRolePolicyDocument: trustFlowLogs})

	_, err := query(t, q, "root", "Action=CreatePolicy&PolicyName=bad&PolicyDocument="+url.QueryEscape(trustFlowLogs))
	wantAWSError(t, err, 400, "MalformedPolicyDocument", msgPrincipalInID)
	out, err := query(t, q, "root", "Action=CreatePolicy&PolicyName=deliver&Path=%2Fflow%2F&Description=d&PolicyDocument="+url.QueryEscape(permsFlowLogs))
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:iam::123456789012:policy/flow/deliver"
	for _, want := range []string{"<Arn>" + arn + "</Arn>", "<DefaultVersionId>v1</DefaultVersionId>", "<AttachmentCount>0</AttachmentCount>", "<PolicyId>ANPA"} {
		if !strings.Contains(out, want) {
			t.Errorf("CreatePolicy lacks %s: %s", want, out)
		}
	}
	_, err = query(t, q, "root", "Action=CreatePolicy&PolicyName=Deliver&PolicyDocument="+url.QueryEscape(permsFlowLogs))
	wantAWSError(t, err, 409, "EntityAlreadyExists", "A policy called Deliver already exists. Duplicate names are not allowed.")

	// Attached policies take part in evaluation, at once and after a
	// restart.
	if ok, _ := s.Authorize(role.Arn, "logs:PutLogEvents", streamARN, nil); ok {
		t.Fatal("allowed before attaching")
	}
	_, err = query(t, q, "root", "Action=AttachRolePolicy&RoleName=flowlogsRole&PolicyArn=arn:aws:iam::aws:policy/CloudWatchLogsFullAccess")
	wantAWSError(t, err, 404, "NoSuchEntity", "Policy arn:aws:iam::aws:policy/CloudWatchLogsFullAccess does not exist or is not attachable.")
	for i := 0; i < 2; i++ { // attaching twice is a no-op
		if _, err := query(t, q, "root", "Action=AttachRolePolicy&RoleName=flowlogsRole&PolicyArn="+arn); err != nil {
			t.Fatal(err)
		}
	}
	if ok, reason := s.Authorize(role.Arn, "logs:PutLogEvents", streamARN, nil); !ok {
		t.Fatal(reason)
	}
	s = newTestService(t, dir)
	q = s.QueryService()
	if ok, reason := s.Authorize(role.Arn, "logs:PutLogEvents", streamARN, nil); !ok {
		t.Fatal("after reopen: " + reason)
	}
	out, _ = query(t, q, "root", "Action=ListAttachedRolePolicies&RoleName=flowlogsRole")
	if !strings.Contains(out, "<AttachedPolicies><member><PolicyName>deliver</PolicyName><PolicyArn>"+arn+"</PolicyArn></member></AttachedPolicies>") {
		t.Fatalf("ListAttachedRolePolicies: %s", out)
	}
	out, _ = query(t, q, "root", "Action=GetPolicy&PolicyArn="+arn)
	if !strings.Contains(out, "<AttachmentCount>1</AttachmentCount>") || !strings.Contains(out, "<Description>d</Description>") {
		t.Fatalf("GetPolicy: %s", out)
	}
	out, _ = query(t, q, "root", "Action=GetPolicyVersion&PolicyArn="+arn+"&VersionId=v1")
	if !strings.Contains(out, "<Document>"+EncodePolicy(permsFlowLogs)+"</Document>") || !strings.Contains(out, "<IsDefaultVersion>true</IsDefaultVersion>") {
		t.Fatalf("GetPolicyVersion: %s", out)
	}
	out, _ = query(t, q, "root", "Action=ListPolicies&Scope=Local&OnlyAttached=true")
	if strings.Count(out, "<member>") != 1 {
		t.Fatalf("ListPolicies: %s", out)
	}
	wantAWSError(t, s.DeletePolicy(arn), 409, "DeleteConflict", "Cannot delete a policy attached to entities.")
	wantAWSError(t, s.DeleteRole("flowlogsRole"), 409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")

	// Users too.
	_, _ = s.CreateUser("u", "", nil, "")
	if err := s.AttachUserPolicy("u", arn, false); err != nil {
		t.Fatal(err)
	}
	ak, _, _ := s.CreateAccessKey("u")
	if _, pols, _, _ := s.userByKey(ak.AccessKeyID); Evaluate(Request{Action: "logs:CreateLogGroup", Resource: groupARN}, pols...) != Allowed {
		t.Fatal("user's attached policy not evaluated")
	}
	wantAWSError(t, s.AttachUserPolicy("u", arn+"x", true), 404, "NoSuchEntity", "Policy "+arn+"x was not found.")
	for _, detach := range []func() error{
		func() error { return s.AttachUserPolicy("u", arn, true) },
		func() error { return s.AttachRolePolicy("flowlogsRole", arn, true) },
	} {
		if err := detach(); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := s.Authorize(role.Arn, "logs:PutLogEvents", streamARN, nil); ok {
		t.Fatal("allowed after detaching")
	}
	if err := s.DeletePolicy(arn); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = s.GetPolicy(arn)
	wantAWSError(t, err, 404, "NoSuchEntity", "Policy "+arn+" was not found.")
	if err := s.DeleteRole("flowlogsRole"); err != nil {
		t.Fatal(err)
	}
}

func TestAttachQuota(t *testing.T) {
	s := newTestService(t, "")
	_, _ = s.CreateUser("u", "", nil, "")
	for i := 0; i <= maxAttachedPerEntity; i++ {
		p, err := s.CreatePolicy("p"+string(rune('a'+i)), "", "", permsFlowLogs, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.AttachUserPolicy("u", p.Arn, false)
		if i < maxAttachedPerEntity && err != nil {
			t.Fatal(err)
		}
		if i == maxAttachedPerEntity {
			wantAWSError(t, err, 409, "LimitExceeded", "Cannot exceed quota for PolicyAttachmentsPerUser: 10")
		}
	}
}

func TestPermissionsBoundary(t *testing.T) {
	s := newTestService(t, "")
	q := s.QueryService()
	trust := url.QueryEscape(trustFlowLogs)
	_, err := query(t, q, "root", "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument="+trust+"&PermissionsBoundary=arn:aws:iam::aws:policy/ReadOnlyAccess")
	wantAWSError(t, err, 404, "NoSuchEntity", "Scope ARN: arn:aws:iam::aws:policy/ReadOnlyAccess does not exist or is not attachable.")
	if _, err := s.GetRole("r"); err == nil {
		t.Fatal("role created with a missing boundary")
	}
	// The boundary lets streams be written but never groups be created.
	b, _ := s.CreatePolicy("boundary", "", "", stmt(`{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"},{"Effect":"Deny","Action":"logs:DeleteLogGroup","Resource":"*"}`), nil)
	out, err := query(t, q, "root", "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument="+trust+"&PermissionsBoundary="+b.Arn)
	if err != nil || !strings.Contains(out, "<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>"+b.Arn+"</PermissionsBoundaryArn></PermissionsBoundary>") {
		t.Fatalf("%s %v", out, err)
	}
	r, _ := s.GetRole("r")
	_ = s.PutRolePolicy("r", "all", stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*"}`))
	if ok, reason := s.Authorize(r.Arn, "logs:PutLogEvents", streamARN, nil); !ok {
		t.Fatal(reason)
	}
	ok, reason := s.Authorize(r.Arn, "logs:CreateLogGroup", groupARN, nil)
	if ok || !strings.HasSuffix(reason, "because no permissions boundary allows the logs:CreateLogGroup action") {
		t.Fatalf("%v %q", ok, reason)
	}
	ok, reason = s.Authorize(r.Arn, "logs:DeleteLogGroup", groupARN, nil)
	if ok || !strings.HasSuffix(reason, "with an explicit deny in a permissions boundary") {
		t.Fatalf("%v %q", ok, reason)
	}
	// The boundary alone grants nothing.
	_ = s.DeleteRolePolicy("r", "all")
	if ok, _ := s.Authorize(r.Arn, "logs:PutLogEvents", streamARN, nil); ok {
		t.Fatal("a boundary alone allowed")
	}
	wantAWSError(t, s.DeletePolicy(b.Arn), 409, "DeleteConflict", "Cannot delete a policy attached to entities.")
	out, _ = query(t, q, "root", "Action=GetPolicy&PolicyArn="+b.Arn)
	if !strings.Contains(out, "<PermissionsBoundaryUsageCount>1</PermissionsBoundaryUsageCount>") {
		t.Fatalf("GetPolicy: %s", out)
	}
	if _, err := query(t, q, "root", "Action=DeleteRolePermissionsBoundary&RoleName=r"); err != nil {
		t.Fatal(err)
	}
	_ = s.PutRolePolicy("r", "all", stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*"}`))
	if ok, reason := s.Authorize(r.Arn, "logs:CreateLogGroup", groupARN, nil); !ok {
		t.Fatal("boundary removed: " + reason)
	}

	// Users' requests too.
	_, _ = s.CreateUser("u", "", nil, "")
	ak, _, _ := s.CreateAccessKey("u")
	_ = s.PutUserPolicy("u", "all", stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"*"}`))
	if _, err := query(t, q, "root", "Action=PutUserPermissionsBoundary&UserName=u&PermissionsBoundary="+b.Arn); err != nil {
		t.Fatal(err)
	}
	err = s.RequestAuthorizer().Authorize(awsapi.RequestInfo{AccessKeyID: ak.AccessKeyID}, "logs:CreateLogGroup", groupARN)
	wantAWSError(t, err, 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/u is not authorized to perform: logs:CreateLogGroup on resource: "+groupARN+" because no permissions boundary allows the logs:CreateLogGroup action")
	out, _ = query(t, q, "root", "Action=GetUser&UserName=u")
	if !strings.Contains(out, "<PermissionsBoundaryArn>"+b.Arn+"</PermissionsBoundaryArn>") {
		t.Fatalf("GetUser: %s", out)
	}
}
