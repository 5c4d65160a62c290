package iam

import (
	"strings"
	"testing"
)

func TestExtras(t *testing.T) {
	s := newTestService(t, "")
	q := s.QueryService()
	_, _ = s.CreateRole(CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: trustFlowLogs, Tags: []Tag{{"a", "1"}}})
	if _, err := query(t, q, "root", "Action=TagRole&RoleName=r&Tags.member.1.Key=A&Tags.member.1.Value=2&Tags.member.2.Key=b&Tags.member.2.Value=3"); err != nil {
		t.Fatal(err)
	}
	out, _ := query(t, q, "root", "Action=ListRoleTags&RoleName=r")
	if !strings.Contains(out, "<Tags><member><Key>A</Key><Value>2</Value></member><member><Key>b</Key><Value>3</Value></member></Tags>") {
		t.Fatalf("tag keys compare ignoring case: %s", out)
	}
	if _, err := query(t, q, "root", "Action=UntagRole&RoleName=r&TagKeys.member.1=a"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRole("r"); len(r.Tags) != 1 || r.Tags[0].Key != "b" {
		t.Fatalf("untag: %v", r.Tags)
	}
	_, err := query(t, q, "root", "Action=TagRole&RoleName=r")
	wantAWSError(t, err, 400, "ValidationError", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")

	if _, err := query(t, q, "root", "Action=UpdateRole&RoleName=r&Description=new&MaxSessionDuration=7200"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRole("r"); r.Description != "new" || r.MaxSessionDuration != 7200 {
		t.Fatalf("update-role: %+v", r)
	}
	out, err = query(t, q, "root", "Action=ListInstanceProfilesForRole&RoleName=r")
	if err != nil || !strings.Contains(out, "<InstanceProfiles></InstanceProfiles>") {
		t.Fatalf("%s %v", out, err)
	}

	_, _ = s.CreateUser("u", "", nil, "")
	ak, _, _ := s.CreateAccessKey("u")
	_, err = query(t, q, "root", "Action=UpdateAccessKey&UserName=u&AccessKeyId="+ak.AccessKeyID+"&Status=Off")
	wantAWSError(t, err, 400, "ValidationError", "1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
	if _, err := query(t, q, "root", "Action=UpdateAccessKey&UserName=u&AccessKeyId="+ak.AccessKeyID+"&Status=Inactive"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secret(ak.AccessKeyID); ok {
		t.Fatal("an inactive key authenticates")
	}
	if _, err := query(t, q, "root", "Action=UpdateAccessKey&UserName=u&AccessKeyId="+ak.AccessKeyID+"&Status=Active"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secret(ak.AccessKeyID); !ok {
		t.Fatal("a reactivated key does not authenticate")
	}
	if _, err := query(t, q, "root", "Action=TagUser&UserName=u&Tags.member.1.Key=k&Tags.member.1.Value=v"); err != nil {
		t.Fatal(err)
	}
	out, _ = query(t, q, "root", "Action=ListUserTags&UserName=u")
	if !strings.Contains(out, "<Key>k</Key><Value>v</Value>") {
		t.Fatalf("ListUserTags: %s", out)
	}
}
