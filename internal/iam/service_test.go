package iam

import (
	"context"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

func newTestService(t testing.TB, dir string) *Service {
	t.Helper()
	s, err := Open(Config{DataDir: dir, AccountID: "123456789012", Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantAWSError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	e := awsapi.AsError(err)
	if e == nil || e.Status != status || e.Code != code || e.Message != msg {
		t.Fatalf("got %v (%+v), want %d %s %q", err, e, status, code, msg)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := newTestService(t, dir)
	if _, err := s.CreateRole(CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: trustFlowLogs, Description: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRolePolicy("r", "p", permsFlowLogs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser("alice", "/team/", []Tag{{"k", "v"}}, ""); err != nil {
		t.Fatal(err)
	}
	ak, _, err := s.CreateAccessKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ak.AccessKeyID, "AKIA") || len(ak.AccessKeyID) != 20 || len(ak.SecretAccessKey) != 40 {
		t.Fatalf("key shape %q / %d", ak.AccessKeyID, len(ak.SecretAccessKey))
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".iam-*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	s2 := newTestService(t, dir)
	r, err := s2.GetRole("R") // names are unique ignoring case
	if err != nil || r.AssumeRolePolicyDocument != trustFlowLogs || r.Description != "d" || !strings.HasPrefix(r.RoleID, "AROA") || len(r.RoleID) != 21 {
		t.Fatalf("%+v %v", r, err)
	}
	if doc, err := s2.GetRolePolicy("r", "p"); err != nil || doc != permsFlowLogs {
		t.Fatalf("%q %v", doc, err)
	}
	u, err := s2.GetUser("alice")
	if err != nil || u.Arn != "arn:aws:iam::123456789012:user/team/alice" || !strings.HasPrefix(u.UserID, "AIDA") || len(u.Tags) != 1 {
		t.Fatalf("%+v %v", u, err)
	}
	if sec, ok := s2.Secret(ak.AccessKeyID); !ok || sec != ak.SecretAccessKey {
		t.Fatal("access key not restored")
	}
	if err := s2.DeleteAccessKey("alice", ak.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, ok := newTestService(t, dir).Secret(ak.AccessKeyID); ok {
		t.Fatal("deleted key still authenticates after reopen")
	}
}

func TestFailedWriteChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := newTestService(t, dir)
	if _, err := s.CreateUser("a", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	// The data dir is gone (even root cannot write there): the write fails
	// and neither the new user nor the policy change may exist in memory.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser("b", "", nil, ""); err == nil {
		t.Fatal("create succeeded without a durable write")
	}
	if _, err := s.GetUser("b"); err == nil {
		t.Fatal("user exists in memory after a failed write")
	}
	if err := s.PutUserPolicy("a", "p", permsFlowLogs); err == nil {
		t.Fatal("policy stored without a durable write")
	}
	if names, _ := s.ListUserPolicies("a"); len(names) != 0 {
		t.Fatalf("policy in memory after a failed write: %v", names)
	}
}

func TestServiceErrors(t *testing.T) {
	s := newTestService(t, "")
	_, err := s.GetRole("nope")
	wantAWSError(t, err, 404, "NoSuchEntity", "The role with name nope cannot be found.")
	_, err = s.CreateRole(CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: permsFlowLogs})
	wantAWSError(t, err, 400, "MalformedPolicyDocument", msgTrustResource)
	if _, err := s.CreateRole(CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: trustFlowLogs}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateRole(CreateRoleInput{RoleName: "R", AssumeRolePolicyDocument: trustFlowLogs})
	wantAWSError(t, err, 409, "EntityAlreadyExists", "Role with name R already exists.")
	wantAWSError(t, s.PutRolePolicy("r", "p", trustFlowLogs), 400, "MalformedPolicyDocument", msgPrincipalInID)
	wantAWSError(t, s.PutRolePolicy("nope", "p", permsFlowLogs), 404, "NoSuchEntity", "The role with name nope cannot be found.")
	if err := s.PutRolePolicy("r", "p", permsFlowLogs); err != nil {
		t.Fatal(err)
	}
	wantAWSError(t, s.DeleteRole("r"), 409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
	wantAWSError(t, s.DeleteRolePolicy("r", "q"), 404, "NoSuchEntity", "The role policy with name q cannot be found.")
	_, err = s.GetRolePolicy("r", "q")
	wantAWSError(t, err, 404, "NoSuchEntity", "The role policy with name q cannot be found.")
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:` + strings.Repeat("x", 10300) + `"}]}`
	wantAWSError(t, s.PutRolePolicy("r", "big", big), 409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role r")
	if names, _ := s.ListRolePolicies("r"); len(names) != 1 {
		t.Fatalf("a refused policy was stored: %v", names)
	}
	if err := s.DeleteRolePolicy("r", "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole("r"); err != nil {
		t.Fatal(err)
	}

	if _, err := s.CreateUser("u", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateUser("U", "", nil, "")
	wantAWSError(t, err, 409, "EntityAlreadyExists", "User with name U already exists.")
	for i := 0; i < 2; i++ {
		if _, _, err := s.CreateAccessKey("u"); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = s.CreateAccessKey("u")
	wantAWSError(t, err, 409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	wantAWSError(t, s.DeleteUser("u"), 409, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	wantAWSError(t, s.DeleteAccessKey("u", "AKIANOPE000000000000"), 404, "NoSuchEntity", "The Access Key with id AKIANOPE000000000000 cannot be found.")
	_, keys, _ := s.ListAccessKeys("u")
	for _, k := range keys {
		if k.SecretAccessKey != "" {
			t.Fatal("ListAccessKeys leaks secrets")
		}
		if err := s.DeleteAccessKey("u", k.AccessKeyID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutUserPolicy("u", "p", permsFlowLogs); err != nil {
		t.Fatal(err)
	}
	wantAWSError(t, s.DeleteUser("u"), 409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
	_, _, err = s.GetUserPolicy("u", "q")
	wantAWSError(t, err, 404, "NoSuchEntity", "The user policy with name q cannot be found.")
	if err := s.DeleteUserPolicy("u", "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser("u"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetUser("u")
	wantAWSError(t, err, 404, "NoSuchEntity", "The user with name u cannot be found.")
}

func query(t *testing.T, q *awsapi.QueryService, key, raw string) (string, error) {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := awsapi.QueryParams(v)
	ctx := awsapi.WithInfo(context.Background(), awsapi.RequestInfo{AccessKeyID: key, Region: "us-east-1", AccountID: "123456789012"})
	out, err := q.Ops[p.Value("Action")](ctx, p)
	if err != nil || out == nil {
		return "", err
	}
	var b strings.Builder
	if err := xml.NewEncoder(&b).EncodeElement(out, xml.StartElement{Name: xml.Name{Local: "Result"}}); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

func TestQueryOperations(t *testing.T) {
	s := newTestService(t, "")
	q := s.QueryService()
	trust := url.QueryEscape(trustFlowLogs)

	_, err := query(t, q, "root", "Action=CreateRole&RoleName=bad*name&AssumeRolePolicyDocument="+trust+"&MaxSessionDuration=60")
	wantAWSError(t, err, 400, "ValidationError", `2 validation errors detected: Value 'bad*name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600`)
	_, err = query(t, q, "root", "Action=CreateRole&RoleName=r")
	wantAWSError(t, err, 400, "ValidationError", "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")

	_, err = query(t, q, "root", "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument="+trust+"&PermissionsBoundary=arn:aws:iam::aws:policy/ReadOnlyAccess")
	wantAWSError(t, err, 404, "NoSuchEntity", "Scope ARN: arn:aws:iam::aws:policy/ReadOnlyAccess does not exist or is not attachable.")
	_, err = query(t, q, "root", "Action=CreateUser&UserName=u&PermissionsBoundary=arn:aws:iam::123456789012:policy/b")
	wantAWSError(t, err, 404, "NoSuchEntity", "Scope ARN: arn:aws:iam::123456789012:policy/b does not exist or is not attachable.")
	out, err := query(t, q, "root", "Action=CreateRole&RoleName=r&Path=%2Fa%2F&AssumeRolePolicyDocument="+trust+"&Tags.member.1.Key=team&Tags.member.1.Value=net")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<Path>/a/</Path>", "<Arn>arn:aws:iam::123456789012:role/a/r</Arn>", "<CreateDate>2026-11-23T12:00:00Z</CreateDate>",
		"<AssumeRolePolicyDocument>" + EncodePolicy(trustFlowLogs) + "</AssumeRolePolicyDocument>", "<MaxSessionDuration>3600</MaxSessionDuration>",
		"<Tags><member><Key>team</Key><Value>net</Value></member></Tags>"} {
		if !strings.Contains(out, want) {
			t.Errorf("CreateRole result lacks %s: %s", want, out)
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := query(t, q, "root", "Action=CreateRole&RoleName=page"+string(rune('0'+i))+"&AssumeRolePolicyDocument="+trust); err != nil {
			t.Fatal(err)
		}
	}
	// Paging: 4 roles, 3 per page.
	out, _ = query(t, q, "root", "Action=ListRoles&MaxItems=3")
	if strings.Count(out, "<member>") != 3 || !strings.Contains(out, "<IsTruncated>true</IsTruncated>") || strings.Contains(out, "<Tags>") {
		t.Fatalf("page 1: %s", out)
	}
	var page struct {
		Marker string `xml:"Marker"`
	}
	_ = xml.Unmarshal([]byte(out), &page)
	out, _ = query(t, q, "root", "Action=ListRoles&MaxItems=3&Marker="+url.QueryEscape(page.Marker))
	if strings.Count(out, "<member>") != 1 || !strings.Contains(out, "<RoleName>r</RoleName>") || !strings.Contains(out, "<IsTruncated>false</IsTruncated>") {
		t.Fatalf("page 2: %s", out)
	}
	out, _ = query(t, q, "root", "Action=ListRoles&PathPrefix=%2Fa%2F")
	if strings.Count(out, "<member>") != 1 {
		t.Fatalf("path prefix: %s", out)
	}
	_, err = query(t, q, "root", "Action=ListRoles&Marker=junk")
	wantAWSError(t, err, 400, "ValidationError", "Invalid Marker.")

	// Caller-relative operations: root has no user.
	_, err = query(t, q, "root", "Action=CreateAccessKey")
	wantAWSError(t, err, 400, "ValidationError", "Must specify userName when calling with non-User credentials")
	if _, err := s.CreateUser("alice", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	out, err = query(t, q, "root", "Action=CreateAccessKey&UserName=alice")
	if err != nil || !strings.Contains(out, "<SecretAccessKey>") || !strings.Contains(out, "<Status>Active</Status>") {
		t.Fatalf("%s %v", out, err)
	}
	_, keys, _ := s.ListAccessKeys("alice")
	out, _ = query(t, q, keys[0].AccessKeyID, "Action=GetUser")
	if !strings.Contains(out, "<UserName>alice</UserName>") {
		t.Fatalf("GetUser as alice: %s", out)
	}
	out, _ = query(t, q, keys[0].AccessKeyID, "Action=ListAccessKeys")
	if !strings.Contains(out, "<AccessKeyId>"+keys[0].AccessKeyID+"</AccessKeyId>") || strings.Contains(out, "SecretAccessKey") {
		t.Fatalf("ListAccessKeys as alice: %s", out)
	}
	out, _ = query(t, s.STSService(), keys[0].AccessKeyID, "Action=GetCallerIdentity")
	if !strings.Contains(out, "<Arn>arn:aws:iam::123456789012:user/alice</Arn>") || !strings.Contains(out, "<Account>123456789012</Account>") {
		t.Fatalf("GetCallerIdentity: %s", out)
	}
	out, _ = query(t, s.STSService(), "root", "Action=GetCallerIdentity")
	if !strings.Contains(out, "<Arn>arn:aws:iam::123456789012:root</Arn>") {
		t.Fatalf("GetCallerIdentity root: %s", out)
	}
}

func TestEncodePolicy(t *testing.T) {
	// botocore decodes with unquote, not unquote_plus: '+' and ' ' must be
	// percent-encoded.
	got := EncodePolicy(`{"a": "b+c/d~e_f.g-h"}`)
	if want := `%7B%22a%22%3A%20%22b%2Bc%2Fd~e_f.g-h%22%7D`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if dec, err := url.PathUnescape(EncodePolicy(trustFlowLogs + "é")); err != nil || dec != trustFlowLogs+"é" {
		t.Fatalf("round trip: %q %v", dec, err)
	}
}

func TestRequestAuthorizer(t *testing.T) {
	s := newTestService(t, "")
	a := s.RequestAuthorizer()
	if a.Restricted("AKIAROOT") {
		t.Fatal("unknown (root) keys are not restricted")
	}
	if _, err := s.CreateUser("alice", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	ak, _, _ := s.CreateAccessKey("alice")
	if !a.Restricted(ak.AccessKeyID) {
		t.Fatal("user keys are restricted")
	}
	info := awsapi.RequestInfo{AccessKeyID: ak.AccessKeyID, Region: "us-east-1"}
	res := "arn:aws:logs:us-east-1:123456789012:log-group:x:*"
	err := a.Authorize(info, "logs:CreateLogGroup", res)
	wantAWSError(t, err, 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: logs:CreateLogGroup on resource: "+res+" because no identity-based policy allows the logs:CreateLogGroup action")
	if err := s.PutUserPolicy("alice", "own", stmt(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:${aws:RequestedRegion}:*:log-group:*"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Authorize(info, "logs:CreateLogGroup", res); err != nil {
		t.Fatal(err)
	}
	info.Region = "eu-west-1"
	if err := a.Authorize(info, "logs:CreateLogGroup", res); err == nil {
		t.Fatal("policy variable aws:RequestedRegion not applied")
	}
}

func TestAuthorizeCallerPassRole(t *testing.T) {
	s := newTestService(t, "")
	role, _ := s.CreateRole(CreateRoleInput{RoleName: "flowlogsRole", AssumeRolePolicyDocument: trustFlowLogs})
	if err := s.AuthorizeCaller(awsapi.RequestInfo{AccessKeyID: "AKIAROOT"}, "iam:PassRole", role.Arn); err != nil {
		t.Fatalf("root: %v", err)
	}
	_, _ = s.CreateUser("ops", "", nil, "")
	ak, _, _ := s.CreateAccessKey("ops")
	info := awsapi.RequestInfo{AccessKeyID: ak.AccessKeyID, Region: "us-east-1"}
	wantAWSError(t, s.AuthorizeCaller(info, "iam:PassRole", role.Arn), 400, "AccessDeniedException",
		"User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/flowlogsRole because no identity-based policy allows the iam:PassRole action")
	_ = s.PutUserPolicy("ops", "pass", stmt(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::*:role/flowlogs*"}`))
	if err := s.AuthorizeCaller(info, "iam:PassRole", role.Arn); err != nil {
		t.Fatal(err)
	}
}

// Requests are authorized while policies and keys change (run with -race).
func TestConcurrentAuthorization(t *testing.T) {
	s := newTestService(t, t.TempDir())
	_, _ = s.CreateUser("u", "", nil, "")
	ak, _, _ := s.CreateAccessKey("u")
	a := s.RequestAuthorizer()
	info := awsapi.RequestInfo{AccessKeyID: ak.AccessKeyID, Region: "us-east-1"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			if err := s.PutUserPolicy("u", "p", permsFlowLogs); err != nil {
				t.Error(err)
			}
			if err := s.DeleteUserPolicy("u", "p"); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := 0; i < 500; i++ {
		if _, ok := s.Secret(ak.AccessKeyID); !ok {
			t.Fatal("key lost during policy changes")
		}
		err := a.Authorize(info, "logs:PutLogEvents", streamARN)
		if err != nil && awsapi.AsError(err).Code != "AccessDeniedException" {
			t.Fatal(err)
		}
	}
	<-done
}
