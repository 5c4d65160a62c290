// Package integration drives a real `flowwatch serve` with unmodified
// clients: aws-sdk-go-v2, the aws CLI and boto3.
package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
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
	stderr  *bytes.Buffer
	stdout  *bytes.Buffer
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

// startServerWith is startServer with extra serve flags.
func startServerWith(t testing.TB, dataDir string, args, env []string) *server {
	return startServerOn(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), dataDir, args, env)
}

// startServerOn is startServerWith on addr (a restart on the address an
// agent or client knows).
func startServerOn(t testing.TB, addr, dataDir string, args, env []string) *server {
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &server{cmd: exec.Command(binary, append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--capture=false"}, args...)...),
		URL: "http://" + addr, DataDir: dataDir, stderr: new(bytes.Buffer), stdout: new(bytes.Buffer), done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), "FLOWWATCH_ACCESS_KEY_ID="+accessKey, "FLOWWATCH_SECRET_ACCESS_KEY="+secretKey)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stderr, s.cmd.Stdout = s.stderr, s.stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited: %s", s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy after 15s: %s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
