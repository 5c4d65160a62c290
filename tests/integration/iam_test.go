package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const (
	iamTrust = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}`
	iamPerms = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"], "Resource": "*"}]}`
	// iamTrustTight adds the confused-deputy conditions of the seed
	// workflow.
	iamTrustTight = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}, "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:000000000000:vpc-flow-log/fl-*"}}}]}`
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

func decoded(t *testing.T, doc string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIAMCLI(t *testing.T) {
	needCLI(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	root := cli(t, srv, "")
	dir := t.TempDir()
	trust, perms, tight := writeFile(t, dir, "trust.json", iamTrust), writeFile(t, dir, "perms.json", iamPerms), writeFile(t, dir, "tight.json", iamTrustTight)

	// The role of the seed workflow.
	out := root.ok("iam", "create-role", "--role-name", "flowlogsRole", "--assume-role-policy-document", trust, "--description", "VPC flow logs")
	role := out["Role"].(map[string]any)
	if role["Arn"] != "arn:aws:iam::000000000000:role/flowlogsRole" || !strings.HasPrefix(role["RoleId"].(string), "AROA") || len(role["RoleId"].(string)) != 21 ||
		role["Path"] != "/" || role["MaxSessionDuration"] != float64(3600) || !reflect.DeepEqual(role["AssumeRolePolicyDocument"], decoded(t, iamTrust)) {
		t.Fatalf("create-role: %v", out)
	}
	root.fails("EntityAlreadyExists", "Role with name flowlogsRole already exists.", "iam", "create-role", "--role-name", "flowlogsRole", "--assume-role-policy-document", trust)
	root.fails("MalformedPolicyDocument", "Has prohibited field Resource.", "iam", "create-role", "--role-name", "r2", "--assume-role-policy-document", perms)
	root.fails("ValidationError", "Member must satisfy regular expression pattern", "iam", "create-role", "--role-name", "bad/name", "--assume-role-policy-document", trust)
	root.ok("iam", "put-role-policy", "--role-name", "flowlogsRole", "--policy-name", "flowlogs-delivery", "--policy-document", perms)
	root.fails("MalformedPolicyDocument", "Policy document should not specify a principal.", "iam", "put-role-policy", "--role-name", "flowlogsRole", "--policy-name", "x", "--policy-document", trust)
	root.fails("NoSuchEntity", "The role with name nope cannot be found.", "iam", "put-role-policy", "--role-name", "nope", "--policy-name", "x", "--policy-document", perms)
	root.ok("iam", "update-assume-role-policy", "--role-name", "flowlogsRole", "--policy-document", tight)

	out = root.ok("iam", "get-role", "--role-name", "flowlogsRole")
	role = out["Role"].(map[string]any)
	if !reflect.DeepEqual(role["AssumeRolePolicyDocument"], decoded(t, iamTrustTight)) || role["Description"] != "VPC flow logs" {
		t.Fatalf("get-role: %v", out)
	}
	root.fails("NoSuchEntity", "The role with name nope cannot be found.", "iam", "get-role", "--role-name", "nope")
	out = root.ok("iam", "get-role-policy", "--role-name", "flowlogsRole", "--policy-name", "flowlogs-delivery")
	if out["RoleName"] != "flowlogsRole" || !reflect.DeepEqual(out["PolicyDocument"], decoded(t, iamPerms)) {
		t.Fatalf("get-role-policy: %v", out)
	}
	out = root.ok("iam", "list-role-policies", "--role-name", "flowlogsRole")
	if !reflect.DeepEqual(out["PolicyNames"], []any{"flowlogs-delivery"}) {
		t.Fatalf("list-role-policies: %v", out)
	}
	out = root.ok("iam", "list-roles")
	if roles := out["Roles"].([]any); len(roles) != 1 || roles[0].(map[string]any)["RoleName"] != "flowlogsRole" {
		t.Fatalf("list-roles: %v", out)
	}
	root.fails("DeleteConflict", "Cannot delete entity, must delete policies first.", "iam", "delete-role", "--role-name", "flowlogsRole")

	out = root.ok("sts", "get-caller-identity")
	if out["Arn"] != "arn:aws:iam::000000000000:root" || out["Account"] != "000000000000" {
		t.Fatalf("root identity: %v", out)
	}

	// A user allowed only DescribeLogGroups.
	out = root.ok("iam", "create-user", "--user-name", "alice")
	if u := out["User"].(map[string]any); u["Arn"] != "arn:aws:iam::000000000000:user/alice" || !strings.HasPrefix(u["UserId"].(string), "AIDA") {
		t.Fatalf("create-user: %v", out)
	}
	out = root.ok("iam", "create-access-key", "--user-name", "alice")
	key := out["AccessKey"].(map[string]any)
	keyID, secret := key["AccessKeyId"].(string), key["SecretAccessKey"].(string)
	if !strings.HasPrefix(keyID, "AKIA") || len(keyID) != 20 || len(secret) != 40 || key["Status"] != "Active" {
		t.Fatalf("create-access-key: %v", out)
	}
	out = root.ok("iam", "list-access-keys", "--user-name", "alice")
	if md := out["AccessKeyMetadata"].([]any); len(md) != 1 || md[0].(map[string]any)["AccessKeyId"] != keyID || md[0].(map[string]any)["SecretAccessKey"] != nil {
		t.Fatalf("list-access-keys: %v", out)
	}
	root.ok("iam", "put-user-policy", "--user-name", "alice", "--policy-name", "read",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:DescribeLogGroups","Resource":"*"}]}`)

	alice := cliAs(t, srv, "", keyID, secret)
	if out := alice.ok("sts", "get-caller-identity"); out["Arn"] != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("alice identity: %v", out)
	}
	alice.ok("logs", "describe-log-groups")
	alice.fails("AccessDeniedException", "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:000000000000:log-group:alice-g:* because no identity-based policy allows the logs:CreateLogGroup action",
		"logs", "create-log-group", "--log-group-name", "alice-g")
	if out := root.ok("logs", "describe-log-groups"); len(out["logGroups"].([]any)) != 0 {
		t.Fatalf("a denied request created something: %v", out)
	}
	alice.fails("AccessDenied", "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::000000000000:user/", "iam", "list-users")
	alice.fails("AccessDenied", "iam:PutUserPolicy", "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "escalate", "--policy-document", perms)

	// Allowed once the policy says so; stream-level actions on the stream
	// ARN.
	root.ok("iam", "put-user-policy", "--user-name", "alice", "--policy-name", "write", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream"],"Resource":"arn:aws:logs:us-east-1:000000000000:log-group:alice-*"},`+
			`{"Effect":"Deny","Action":"logs:CreateLogStream","Resource":"arn:aws:logs:*:*:log-group:alice-g:log-stream:secret"}]}`)
	alice.ok("logs", "create-log-group", "--log-group-name", "alice-g")
	alice.ok("logs", "create-log-stream", "--log-group-name", "alice-g", "--log-stream-name", "ok")
	alice.fails("AccessDeniedException", "on resource: arn:aws:logs:us-east-1:000000000000:log-group:alice-g:log-stream:secret with an explicit deny in an identity-based policy",
		"logs", "create-log-stream", "--log-group-name", "alice-g", "--log-stream-name", "secret")
	alice.fails("AccessDeniedException", "logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:000000000000:log-group:bob-g:*", "logs", "create-log-group", "--log-group-name", "bob-g")
	out = root.ok("logs", "describe-log-groups")
	if g := out["logGroups"].([]any); len(g) != 1 || g[0].(map[string]any)["logGroupName"] != "alice-g" {
		t.Fatalf("log groups: %v", out)
	}
	out = root.ok("iam", "list-user-policies", "--user-name", "alice")
	if !reflect.DeepEqual(out["PolicyNames"], []any{"read", "write"}) {
		t.Fatalf("list-user-policies: %v", out)
	}
	out = root.ok("iam", "get-user-policy", "--user-name", "alice", "--policy-name", "read")
	if out["UserName"] != "alice" || out["PolicyDocument"].(map[string]any)["Version"] != "2012-10-17" {
		t.Fatalf("get-user-policy: %v", out)
	}

	// Everything survives a restart; the state file is private and no
	// secret reaches the log.
	srv.stop(t)
	if strings.Contains(srv.stderr.String(), secret) || strings.Contains(srv.stdout.String(), secret) {
		t.Fatal("a secret access key was logged")
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "iam.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("iam.json: %v %v", fi, err)
	}
	srv = startServer(t, dataDir)
	root.url, alice.url = srv.URL, srv.URL
	if out := alice.ok("sts", "get-caller-identity"); out["Arn"] != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("alice after restart: %v", out)
	}
	alice.fails("AccessDeniedException", "logs:CreateLogGroup", "logs", "create-log-group", "--log-group-name", "bob-g")
	root.ok("iam", "get-role", "--role-name", "flowlogsRole")

	// Cleanup in the order IAM demands; a deleted key stops working.
	root.fails("DeleteConflict", "Cannot delete entity, must delete access keys first.", "iam", "delete-user", "--user-name", "alice")
	root.ok("iam", "delete-access-key", "--user-name", "alice", "--access-key-id", keyID)
	alice.fails("InvalidClientTokenId", "The security token included in the request is invalid.", "sts", "get-caller-identity")
	alice.fails("UnrecognizedClientException", "The security token included in the request is invalid.", "logs", "describe-log-groups")
	root.fails("DeleteConflict", "Cannot delete entity, must delete policies first.", "iam", "delete-user", "--user-name", "alice")
	root.ok("iam", "delete-user-policy", "--user-name", "alice", "--policy-name", "read")
	root.ok("iam", "delete-user-policy", "--user-name", "alice", "--policy-name", "write")
	root.ok("iam", "delete-user", "--user-name", "alice")
	root.fails("NoSuchEntity", "The user with name alice cannot be found.", "iam", "get-user", "--user-name", "alice")
	root.ok("iam", "delete-role-policy", "--role-name", "flowlogsRole", "--policy-name", "flowlogs-delivery")
	root.ok("iam", "delete-role", "--role-name", "flowlogsRole")
	if out := root.ok("iam", "list-roles"); len(out["Roles"].([]any)) != 0 {
		t.Fatalf("list-roles after delete: %v", out)
	}
}

func TestIAMBoto3(t *testing.T) {
	needBoto3(t)
	runPy(t, startServer(t, ""), "iam_boto3.py", "boto3 iam: all checks passed")
}

func TestSTSSDK(t *testing.T) {
	srv := startServer(t, "")
	c := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""), RetryMaxAttempts: 1})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Arn) != "arn:aws:iam::000000000000:root" || aws.ToString(out.Account) != "000000000000" || aws.ToString(out.UserId) != "000000000000" {
		t.Fatalf("%+v", out)
	}
	bad := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, "wrong", ""), RetryMaxAttempts: 1})
	_, err = bad.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "SignatureDoesNotMatch", "The request signature we calculated does not match")
}
