package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// The capture test runs this test binary again inside a network namespace
// (an AF_PACKET socket belongs to the namespace it is made in). init, not
// TestMain, so the package's other test files stay free to have one.
func init() {
	if os.Getenv("FWSRV_CAPTURE_CHILD") != "" {
		os.Exit(captureChild())
	}
}

// printSink prints delivered records in the default format.
type printSink struct {
	mu  sync.Mutex
	out *bufio.Writer
}

func (s *printSink) Deliver(recs []flowlog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range recs {
		s.out.Write(flowlog.AppendText(nil, &recs[i], flowlog.DefaultFormat))
		s.out.WriteByte('\n')
	}
	return s.out.Flush()
}

// captureChild is serve's capture as serve wires it: the inventory of
// this host, refreshed often, and startCapture following it.
func captureChild() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	inv, err := inventory.New(inventory.Config{Seed: "capture-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	local := func() (inventory.HostInfo, error) { return inventory.LocalHost("") }
	h, err := local()
	if err == nil {
		_, err = inv.SetHost(h)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	go inv.Refresh(ctx, 100*time.Millisecond, log, local)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	stop := startCapture(log, inv, &printSink{out: bufio.NewWriter(os.Stdout)}, 0)
	<-sig
	cancel()
	stop()
	return 0
}

// TestServeCaptureFollowsInterfaces: serve captures an interface that
// appears after it started and releases one that vanishes, emitting the
// records of its open window.
func TestServeCaptureFollowsInterfaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("serve capture test needs root (network namespaces, AF_PACKET); skipping")
	}
	for _, tool := range []string{"ip", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("serve capture test needs %s; skipping", tool)
		}
	}
	id := os.Getpid() % 100000
	a, b := fmt.Sprintf("fwsA%d", id), fmt.Sprintf("fwsB%d", id)
	va, vb := fmt.Sprintf("fwsa%d", id), fmt.Sprintf("fwsb%d", id)
	da, db := fmt.Sprintf("fwsd%d", id), fmt.Sprintf("fwse%d", id)
	if err := exec.Command("ip", "netns", "add", a).Run(); err != nil {
		t.Skipf("cannot create network namespaces (%v); skipping", err)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", a).Run()
		exec.Command("ip", "netns", "del", b).Run()
	})
	run := func(cmds ...[]string) {
		t.Helper()
		for _, c := range cmds {
			if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
	}
	run([]string{"netns", "add", b},
		[]string{"link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b},
		[]string{"-n", a, "addr", "add", "10.237.0.1/24", "dev", va},
		[]string{"-n", b, "addr", "add", "10.237.0.2/24", "dev", vb},
		[]string{"-n", a, "link", "set", va, "up"},
		[]string{"-n", b, "link", "set", vb, "up"})

	cmd := exec.Command("ip", "netns", "exec", a, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FWSRV_CAPTURE_CHILD=1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	var errText strings.Builder
	var errMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errMu.Lock()
			errText.WriteString(sc.Text() + "\n")
			errMu.Unlock()
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case ln, open := <-lines:
				if !open {
					t.Fatalf("child exited before %s", what)
				}
				if ok(ln) {
					return
				}
			case <-timeout:
				errMu.Lock()
				defer errMu.Unlock()
				t.Fatalf("no %s within 15 s; child stderr:\n%s", what, errText.String())
			}
		}
	}
	waitFor("capture on "+va, func(s string) bool { return strings.Contains(s, "msg=capturing interface="+va) })

	run([]string{"link", "add", da, "netns", a, "type", "veth", "peer", "name", db, "netns", b},
		[]string{"-n", a, "addr", "add", "10.238.0.1/24", "dev", da},
		[]string{"-n", b, "addr", "add", "10.238.0.2/24", "dev", db},
		[]string{"-n", a, "link", "set", da, "up"},
		[]string{"-n", b, "link", "set", db, "up"})
	waitFor("capture on the new "+da, func(s string) bool { return strings.Contains(s, "msg=capturing interface="+da) })
	if out, err := exec.Command("ip", "netns", "exec", b, "python3", "-c", `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("10.238.0.2", 40004))
for i in range(3):
    u.sendto(b"s" * 20, ("10.238.0.1", 7777))
`).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // the ring's block timeout
	run([]string{"-n", a, "link", "del", da})
	waitFor(da+" released", func(s string) bool {
		return strings.Contains(s, "interface="+da) && (strings.Contains(s, "is gone") || strings.Contains(s, "capture stopped"))
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		errMu.Lock()
		defer errMu.Unlock()
		t.Fatalf("child: %v\n%s", err, errText.String())
	}
	var got []string
	for _, ln := range strings.Split(stdout.String(), "\n") {
		// Default format: srcaddr $4, srcport $6, dstport $7, protocol $8, packets $9, bytes $10.
		if f := strings.Fields(ln); len(f) == 14 && f[3] == "10.238.0.2" && f[6] == "7777" {
			got = append(got, ln)
		}
	}
	if len(got) != 1 {
		t.Fatalf("records of the new interface's flow: %q\nall:\n%s", got, stdout.String())
	}
	if f := strings.Fields(got[0]); f[5] != "40004" || f[7] != "17" || f[8] != "3" || f[9] != "144" || f[12] != "ACCEPT" {
		t.Errorf("record %q, want 3 packets, 144 bytes, UDP 40004 → 7777", got[0])
	}
}
