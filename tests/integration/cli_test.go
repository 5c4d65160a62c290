package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// clientEnv is the environment the aws CLI and boto3 run with: only the
// test credentials, no config files, no metadata lookups.
func clientEnv(t *testing.T, key, secret string) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") { // no profile, session token, region... of the host
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION="+region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+home+"/config",
		"AWS_SHARED_CREDENTIALS_FILE="+home+"/credentials", "AWS_PAGER=", "HOME="+home)
}

type cliRunner struct {
	t   *testing.T
	url string
	env []string
}

// run runs `aws --endpoint-url URL logs ARGS...` and returns its parsed
// JSON output (nil for none), or the error text when it fails.
func (c *cliRunner) run(args ...string) (map[string]any, string) {
	c.t.Helper()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", c.url, "--output", "json", "logs"}, args...)...)
	cmd.Env = c.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String()
	}
	if strings.TrimSpace(stdout.String()) == "" {
		return nil, ""
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &out); err != nil {
		c.t.Fatalf("aws %v: output %q: %v", args, stdout.String(), err)
	}
	return out, ""
}

func (c *cliRunner) ok(args ...string) map[string]any {
	c.t.Helper()
	out, errText := c.run(args...)
	if errText != "" {
		c.t.Fatalf("aws logs %v: %s", args, errText)
	}
	return out
}

func (c *cliRunner) fails(code, msg string, args ...string) {
	c.t.Helper()
	_, errText := c.run(args...)
	want := "An error occurred (" + code + ")"
	if !strings.Contains(errText, want) || !strings.Contains(errText, msg) {
		c.t.Fatalf("aws logs %v: got %q, want %s and %q", args, errText, want, msg)
	}
}

func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed (apt-get install awscli / pip install awscli): skipping the CLI tests")
	}
	srv := startServer(t, "")
	c := &cliRunner{t: t, url: srv.URL, env: clientEnv(t, accessKey, secretKey)}

	c.ok("create-log-group", "--log-group-name", "cli-g", "--tags", "team=net")
	c.fails("ResourceAlreadyExistsException", "The specified log group already exists", "create-log-group", "--log-group-name", "cli-g")
	c.fails("InvalidParameterException", "Value 'bad*name' at 'logGroupName' failed to satisfy constraint", "create-log-group", "--log-group-name", "bad*name")
	for i := 0; i < 4; i++ {
		c.ok("create-log-group", "--log-group-name", fmt.Sprintf("cli-page-%d", i))
	}
	c.ok("create-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.fails("ResourceNotFoundException", "The specified log group does not exist.", "create-log-stream", "--log-group-name", "nope", "--log-stream-name", "s1")

	now := time.Now().UnixMilli()
	events := fmt.Sprintf(`[{"timestamp":%d,"message":"first event"},{"timestamp":%d,"message":"second ERROR event"},{"timestamp":%d,"message":"third event"}]`, now-2, now-1, now)
	put := c.ok("put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--log-events", events)
	if _, rejected := put["rejectedLogEventsInfo"]; rejected {
		t.Fatalf("put: %v", put)
	}
	old := fmt.Sprintf(`[{"timestamp":%d,"message":"too old"},{"timestamp":%d,"message":"fine"}]`, now-15*86400000, now)
	put = c.ok("put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--log-events", old)
	if r, _ := put["rejectedLogEventsInfo"].(map[string]any); r["tooOldLogEventEndIndex"] != float64(1) {
		t.Fatalf("put old: %v", put)
	}
	c.fails("InvalidParameterException", "must be in chronological order", "put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1",
		"--log-events", fmt.Sprintf(`[{"timestamp":%d,"message":"b"},{"timestamp":%d,"message":"a"}]`, now, now-5))

	// The CLI pages describe-log-groups itself; --page-size makes it page.
	dg := c.ok("describe-log-groups", "--log-group-name-prefix", "cli-", "--page-size", "2")
	if groups, _ := dg["logGroups"].([]any); len(groups) != 5 {
		t.Fatalf("describe-log-groups: %v", dg)
	}
	ds := c.ok("describe-log-streams", "--log-group-name", "cli-g", "--order-by", "LastEventTime", "--descending")
	st := ds["logStreams"].([]any)[0].(map[string]any)
	if st["logStreamName"] != "s1" || st["lastEventTimestamp"] != float64(now) || st["firstEventTimestamp"] != float64(now-2) {
		t.Fatalf("describe-log-streams: %v", ds)
	}
	ge := c.ok("get-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--start-from-head")
	if evs := ge["events"].([]any); len(evs) != 4 || evs[0].(map[string]any)["message"] != "first event" || ge["nextForwardToken"] == nil || ge["nextBackwardToken"] == nil {
		t.Fatalf("get-log-events: %v", ge)
	}
	fe := c.ok("filter-log-events", "--log-group-name", "cli-g", "--filter-pattern", "ERROR", "--page-size", "1")
	if evs := fe["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["message"] != "second ERROR event" {
		t.Fatalf("filter-log-events: %v", fe)
	}
	fe = c.ok("filter-log-events", "--log-group-name", "cli-g", "--log-stream-name-prefix", "s", "--start-time", fmt.Sprint(now-1), "--end-time", fmt.Sprint(now))
	if evs := fe["events"].([]any); len(evs) != 3 {
		t.Fatalf("filter-log-events range: %v", fe)
	}

	c.ok("put-retention-policy", "--log-group-name", "cli-g", "--retention-in-days", "14")
	c.fails("InvalidParameterException", "Member must satisfy enum value set", "put-retention-policy", "--log-group-name", "cli-g", "--retention-in-days", "15")
	dg = c.ok("describe-log-groups", "--log-group-name-prefix", "cli-g")
	if g := dg["logGroups"].([]any)[0].(map[string]any); g["retentionInDays"] != float64(14) {
		t.Fatalf("retention: %v", g)
	}
	c.ok("delete-retention-policy", "--log-group-name", "cli-g")

	arn := "arn:aws:logs:us-east-1:000000000000:log-group:cli-g"
	c.ok("tag-resource", "--resource-arn", arn, "--tags", "env=dev")
	c.ok("untag-resource", "--resource-arn", arn, "--tag-keys", "team")
	lt := c.ok("list-tags-for-resource", "--resource-arn", arn)
	if tags := lt["tags"].(map[string]any); len(tags) != 1 || tags["env"] != "dev" {
		t.Fatalf("tags: %v", lt)
	}
	c.ok("tag-log-group", "--log-group-name", "cli-g", "--tags", "legacy=yes")
	c.ok("untag-log-group", "--log-group-name", "cli-g", "--tags", "env")
	lt = c.ok("list-tags-log-group", "--log-group-name", "cli-g")
	if tags := lt["tags"].(map[string]any); len(tags) != 1 || tags["legacy"] != "yes" {
		t.Fatalf("legacy tags: %v", lt)
	}

	c.ok("delete-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.fails("ResourceNotFoundException", "The specified log stream does not exist.", "delete-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.ok("delete-log-group", "--log-group-name", "cli-g")
	c.fails("ResourceNotFoundException", "The specified log group does not exist.", "delete-log-group", "--log-group-name", "cli-g")

	bad := &cliRunner{t: t, url: srv.URL, env: clientEnv(t, accessKey, "not-the-secret")}
	bad.fails("InvalidSignatureException", "The request signature we calculated does not match", "describe-log-groups")
	unknown := &cliRunner{t: t, url: srv.URL, env: clientEnv(t, "AKIAUNKNOWN000000000", secretKey)}
	unknown.fails("UnrecognizedClientException", "The security token included in the request is invalid.", "describe-log-groups")
}

func TestBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed: skipping the boto3 tests")
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 not installed (pip install boto3): skipping the boto3 tests")
	}
	srv := startServer(t, "")
	cmd := exec.Command("python3", "py/boto3_logs.py", srv.URL, accessKey, secretKey)
	cmd.Env = clientEnv(t, accessKey, secretKey)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("boto3 script failed: %v", err)
	}
	if !strings.Contains(string(out), "boto3: all checks passed") {
		t.Fatal("boto3 script did not finish")
	}
}
