package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The unmodified clients every test drives: one aws CLI runner and one
// boto3 script runner, shared by the logs, EC2, IAM and Insights tests.

// clientEnv is the environment the aws CLI and boto3 run with: only the
// given credentials, no config files, no metadata lookups.
func clientEnv(t testing.TB, key, secret string) []string {
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

// needCLI skips the test when the aws CLI is not installed.
func needCLI(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed (apt-get install awscli / pip install awscli): skipping")
	}
}

// needBoto3 skips the test when python3 or boto3 is not installed.
func needBoto3(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed: skipping the boto3 tests")
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 not installed (pip install boto3): skipping the boto3 tests")
	}
}

// awsCLI runs `aws --endpoint-url URL [SERVICE] ARGS...`.
type awsCLI struct {
	t       testing.TB
	url     string
	env     []string
	service string // prepended to every command; "" to give it in args
	region  string // --region; "" for the environment's
}

// cli returns an aws CLI runner for service against srv, signing with the
// test's root credentials.
func cli(t testing.TB, srv *server, service string) *awsCLI {
	return cliAs(t, srv, service, accessKey, secretKey)
}

// cliAs is cli signing with other credentials.
func cliAs(t testing.TB, srv *server, service, key, secret string) *awsCLI {
	return &awsCLI{t: t, url: srv.URL, env: clientEnv(t, key, secret), service: service}
}

// in returns the runner for another region.
func (c *awsCLI) in(region string) *awsCLI {
	d := *c
	d.region = region
	return &d
}

// run returns the command's parsed JSON output (nil for none), or its
// error text when it fails.
func (c *awsCLI) run(args ...string) (map[string]any, string) {
	c.t.Helper()
	full := []string{"--endpoint-url", c.url, "--output", "json"}
	if c.region != "" {
		full = append(full, "--region", c.region)
	}
	if c.service != "" {
		full = append(full, c.service)
	}
	cmd := exec.Command("aws", append(full, args...)...)
	cmd.Env = c.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if stderr.Len() == 0 {
			return nil, err.Error()
		}
		return nil, stderr.String()
	}
	s := strings.TrimSpace(stdout.String())
	if s == "" {
		return nil, ""
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		c.t.Fatalf("aws %s %v: output %q: %v", c.service, args, s, err)
	}
	return out, ""
}

func (c *awsCLI) ok(args ...string) map[string]any {
	c.t.Helper()
	out, errText := c.run(args...)
	if errText != "" {
		c.t.Fatalf("aws %s %v: %s", c.service, args, errText)
	}
	return out
}

// fails runs a command that must fail with the AWS error code and a
// message containing msg.
func (c *awsCLI) fails(code, msg string, args ...string) {
	c.t.Helper()
	_, errText := c.run(args...)
	if !strings.Contains(errText, "An error occurred ("+code+")") || !strings.Contains(errText, msg) {
		c.t.Fatalf("aws %s %v: got %q, want (%s) and %q", c.service, args, errText, code, msg)
	}
}

// runPy runs a boto3 script of py/ against srv with the root credentials
// (its arguments: URL, key, secret, args...) and checks that it printed
// done, its last line on success.
func runPy(t testing.TB, srv *server, script, done string, args ...string) {
	t.Helper()
	needBoto3(t)
	cmd := exec.Command("python3", append([]string{"py/" + script, srv.URL, accessKey, secretKey}, args...)...)
	cmd.Env = clientEnv(t, accessKey, secretKey)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("boto3 script %s failed: %v", script, err)
	}
	if !strings.Contains(string(out), done) {
		t.Fatalf("boto3 script %s did not finish", script)
	}
}
