package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashKey    = "AKIAFLOWWATCHE2E0002"
	crashSecret = "flowwatch/e2e/crash/0123456789abcdef"
)

// server is a `flowwatch serve` the crash test kills and restarts.
type server struct {
	t    *testing.T
	bin  string
	data string
	addr string
	cmd  *exec.Cmd
	log  lockedBuffer
	args []string // extra serve flags
}

// lockedBuffer collects serve's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, append([]string{"serve", "--listen", s.addr, "--data-dir", s.data, "--capture=false", "--account-id", "123456789012"}, s.args...)...)
	s.cmd.Env = append(os.Environ(), "FLOWWATCH_ACCESS_KEY_ID="+crashKey, "FLOWWATCH_SECRET_ACCESS_KEY="+crashSecret)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	// Up once this serve says it is serving: tests run in parallel, and a
	// /health answer alone could come from another test's server that got
	// the port first.
	mark := strings.Count(s.log.String(), "msg=serving")
	for i := 0; i < 200; i++ {
		if strings.Count(s.log.String(), "msg=serving") > mark {
			if r, err := http.Get("http://" + s.addr + "/health"); err == nil {
				r.Body.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("serve did not come up:\n%s", s.log.String())
}

func (s *server) kill9() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

func (s *server) aws(args ...string) string {
	s.t.Helper()
	out, err := s.awsTry(args...)
	if err != nil {
		s.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// awsTry runs the aws CLI; the error carries its output.
func (s *server) awsTry(args ...string) (string, error) {
	cmd := exec.Command("aws", append([]string{"--endpoint-url", "http://" + s.addr, "--output", "text"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.data, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + crashKey, "AWS_SECRET_ACCESS_KEY=" + crashSecret, "AWS_DEFAULT_REGION=us-east-1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestKill9LosesNoSpooledWindow: records acknowledged to their source are
// delivered after a kill -9, once, and a kill -9 after delivery does not
// deliver them again.
func TestKill9LosesNoSpooledWindow(t *testing.T) {
	t.Parallel() // the seed workflow mostly waits for windows to close
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("e2e: the aws CLI is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, bin: flowwatchBinary(t), data: t.TempDir(), addr: addr}
	s.start()
	defer func() { s.kill9() }()

	eni := s.aws("ec2", "describe-network-interfaces", "--query", "NetworkInterfaces[0].NetworkInterfaceId")
	if !strings.HasPrefix(eni, "eni-") {
		t.Skipf("e2e: this host has no interface with an address (%q)", eni)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`
	role := s.aws("iam", "create-role", "--role-name", "crashRole", "--assume-role-policy-document", trust, "--query", "Role.Arn")
	s.aws("iam", "put-role-policy", "--role-name", "crashRole", "--policy-name", "p", "--policy-document", perms)
	s.aws("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "crash-logs", "--deliver-logs-permission-arn", role, "--max-aggregation-interval", "60")

	// A closed window, handed over, then the server dies at once.
	now := time.Now().Unix()
	start := now - now%60 - 120
	var lines strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&lines, "2 123456789012 %s 10.0.0.%d 10.0.0.1 %d 443 6 3 180 %d %d ACCEPT OK\n", eni, i+2, 40000+i, start, start+60)
	}
	inject := exec.Command(s.bin, "inject", "--data-dir", s.data)
	inject.Stdin = strings.NewReader(lines.String())
	if out, err := inject.CombinedOutput(); err != nil {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	s.kill9()
	s.start()

	stream := eni + "-all"
	// count is the stream's events, -1 while it does not exist.
	count := func() int {
		out, err := s.awsTry("logs", "get-log-events", "--log-group-name", "crash-logs", "--log-stream-name", stream, "--start-from-head", "--query", "length(events)")
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(out)
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if count() == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records acknowledged before kill -9 not delivered after restart; serve:\n%s", s.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.kill9()
	s.start()
	time.Sleep(3 * time.Second) // several delivery passes
	if n := count(); n != 20 {
		t.Errorf("%d events after a second kill -9, want 20 (no duplicates)", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.data, "delivery", "spool")); len(ents) != 1 { // the inbox directory only
		t.Errorf("spool not emptied after delivery: %d entries", len(ents))
	}
}
