// Package integration drives a real `flowwatch serve` with unmodified
// clients: aws-sdk-go-v2, the aws CLI and boto3.
package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/testserve"
)

const (
	accessKey = "AKIAFLOWWATCHTEST001"
	secretKey = "flowwatch/integration/secret/0123456789ab"
	region    = "us-east-1"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowwatch-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flowwatch")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", binary, "./cmd/flowwatch")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	// FLOWWATCH_IT_RACE=1 runs the tests against a race-detector build of
	// the server, to find races under real client traffic.
	if os.Getenv("FLOWWATCH_IT_RACE") != "" {
		build = exec.Command("go", "build", "-race", "-o", binary, "./cmd/flowwatch")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building flowwatch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `flowwatch serve`.
type server struct {
	cmd     *exec.Cmd
	URL     string
	DataDir string
	stderr  *testserve.Buffer
	stdout  *testserve.Buffer
	done    chan struct{}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer starts serve on a free loopback port with dataDir ("" for a
// fresh one) and the test credentials, and waits for /health.
func startServer(t testing.TB, dataDir string, env ...string) *server {
	return startServerWith(t, dataDir, nil, env)
}

// startServerWith is startServer with extra serve flags. The free port
// may be taken between freePort and serve's bind (tests run in parallel),
// so a bind failure is retried on another port.
func startServerWith(t testing.TB, dataDir string, args, env []string) *server {
	t.Helper()
	for range 5 {
		s, err := launch(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), dataDir, args, env)
		if err == nil {
			return s
		}
		if !errors.Is(err, errAddrInUse) {
			t.Fatal(err)
		}
	}
	t.Fatal("no free port for serve after 5 tries")
	return nil
}

// startServerOn is startServerWith on addr (a restart on the address an
// agent or client knows).
func startServerOn(t testing.TB, addr, dataDir string, args, env []string) *server {
	t.Helper()
	s, err := launch(t, addr, dataDir, args, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var errAddrInUse = errors.New("address already in use")

// launch starts serve on addr and waits until it says it is serving (so
// that a /health answer is its own, not another test's server that got the
// port) and answers /health.
func launch(t testing.TB, addr, dataDir string, args, env []string) (*server, error) {
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &server{cmd: exec.Command(binary, append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--capture=false"}, args...)...),
		URL: "http://" + addr, DataDir: dataDir, stderr: new(testserve.Buffer), stdout: new(testserve.Buffer), done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), "FLOWWATCH_ACCESS_KEY_ID="+accessKey, "FLOWWATCH_SECRET_ACCESS_KEY="+secretKey)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stderr, s.cmd.Stdout = s.stderr, s.stdout
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill() })
	if err := testserve.WaitServing(s.stderr, 0, s.URL, s.done, 15*time.Second); err != nil {
		if errors.Is(err, testserve.ErrExited) && strings.Contains(s.stderr.String(), "address already in use") {
			return nil, errAddrInUse
		}
		return nil, err
	}
	return s, nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr)
	}
}

// kill is kill -9.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}
