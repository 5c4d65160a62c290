package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/testserve"
)

const (
	serveKey    = "AKIAFLOWWATCHE2E0002"
	serveSecret = "flowwatch/e2e/crash/0123456789abcdef"
)

// server is a `flowwatch serve` a test kills and restarts.
type server struct {
	t    *testing.T
	bin  string
	data string
	addr string
	cmd  *exec.Cmd
	log  testserve.Buffer
	args []string // extra serve flags
}

// startServer starts serve with the extra flags args on a free loopback
// port and a fresh data directory, for tests that drive it with the aws
// CLI; it is killed when the test ends.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
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
	s := &server{t: t, bin: flowwatchBinary(t), data: t.TempDir(), addr: addr, args: args}
	s.start()
	t.Cleanup(s.kill9)
	return s
}

func (s *server) start() {
	s.t.Helper()
	// A restart logs to the same buffer: up once this serve says so.
	mark := testserve.Serving(&s.log)
	s.cmd = exec.Command(s.bin, append([]string{"serve", "--listen", s.addr, "--data-dir", s.data, "--capture=false", "--account-id", "123456789012"}, s.args...)...)
	s.cmd.Env = append(os.Environ(), "FLOWWATCH_ACCESS_KEY_ID="+serveKey, "FLOWWATCH_SECRET_ACCESS_KEY="+serveSecret)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	if err := testserve.WaitServing(&s.log, mark, "http://"+s.addr, nil, 10*time.Second); err != nil {
		s.t.Fatalf("serve did not come up: %v", err)
	}
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
		"AWS_ACCESS_KEY_ID=" + serveKey, "AWS_SECRET_ACCESS_KEY=" + serveSecret, "AWS_DEFAULT_REGION=us-east-1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// interfaceID is the first interface serve lists in the region of the
// aws flags given (none: us-east-1); the test is skipped when this host
// has none with an address.
func (s *server) interfaceID(flags ...string) string {
	s.t.Helper()
	// The default route's interface outlives the test; NetworkInterfaces[0]
	// can be a veth another package's test is about to delete (CI runs
	// packages in parallel), and a flow log on it would never be created.
	query := "NetworkInterfaces[0].NetworkInterfaceId"
	if name := defaultRouteInterface(); name != "" {
		query = fmt.Sprintf("NetworkInterfaces[?Description=='%s' || starts_with(Description, '%s on ')].NetworkInterfaceId | [0]", name, name)
	}
	eni := s.aws(append(flags, "ec2", "describe-network-interfaces", "--query", query)...)
	if !strings.HasPrefix(eni, "eni-") {
		s.t.Skipf("e2e: this host has no interface with an address (%q)", eni)
	}
	return eni
}

// deliveryRole creates the IAM role name that flow logs deliver with and
// returns its ARN.
func (s *server) deliveryRole(name string) string {
	s.t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`
	role := s.aws("iam", "create-role", "--role-name", name, "--assume-role-policy-document", trust, "--query", "Role.Arn")
	s.aws("iam", "put-role-policy", "--role-name", name, "--policy-name", "p", "--policy-document", perms)
	return role
}

// inject hands serve's delivery n ACCEPT records of eni in a window that
// closed two minutes ago, through `flowwatch inject`.
func (s *server) inject(eni string, n int) {
	s.t.Helper()
	now := time.Now().Unix()
	start := now - now%60 - 120
	var lines strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "2 123456789012 %s 10.0.0.%d 10.0.0.1 %d 443 6 3 180 %d %d ACCEPT OK\n", eni, i+2, 40000+i, start, start+60)
	}
	inject := exec.Command(s.bin, "inject", "--data-dir", s.data)
	inject.Stdin = strings.NewReader(lines.String())
	if out, err := inject.CombinedOutput(); err != nil {
		s.t.Fatalf("inject: %v\n%s", err, out)
	}
}

// events is the number of events in a log stream in region, -1 while the
// stream does not exist.
func (s *server) events(region, group, stream string) int {
	out, err := s.awsTry("--region", region, "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
		"--start-from-head", "--query", "length(events)")
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(out)
	return n
}

// defaultRouteInterface names the interface of the IPv4 default route
// ("" when there is none).
func defaultRouteInterface() string {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == "00000000" {
			return f[0]
		}
	}
	return ""
}
