package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// The live tests run this test binary again inside a network namespace as
// the capturing child (FWCAP_CHILD names its interfaces), because an
// AF_PACKET socket belongs to the namespace it is created in.
func TestMain(m *testing.M) {
	if ifs := os.Getenv("FWCAP_CHILD"); ifs != "" {
		os.Exit(liveChild(strings.Split(ifs, ",")))
	}
	if d := os.Getenv("FWCAP_FLOOD"); d != "" {
		os.Exit(flood(d))
	}
	if os.Getenv("FWCAP_GONE") != "" {
		os.Exit(goneChild())
	}
	os.Exit(m.Run())
}

var liveFormat = flowlog.MustParseFormat("${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${flow-direction} ${pkt-srcaddr} ${pkt-dstaddr} ${type} ${traffic-path}")

func liveChild(ifs []string) int {
	interval, _ := strconv.Atoi(os.Getenv("FWCAP_INTERVAL"))
	out := bufio.NewWriter(os.Stdout)
	opt := LiveOptions{MachineID: "live-test", Ready: make(chan struct{}),
		Table: TableConfig{Interval: interval, Emit: func(r *flowlog.Record) {
			out.Write(flowlog.AppendText(nil, r, liveFormat))
			out.WriteByte('\n')
		}}}
	if g, _ := strconv.Atoi(os.Getenv("FWCAP_NFLOG")); g > 0 {
		opt.NFLOGGroup = uint16(g)
	}
	if os.Getenv("FWCAP_SMALL_RING") != "" {
		opt.Ring = RingConfig{BlockSize: 4096, Blocks: 2, Timeout: 10 * time.Millisecond}
		opt.stall = 2 * time.Second
	}
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { <-sig; close(stop) }()
	go func() { <-opt.Ready; fmt.Fprintln(os.Stderr, "READY") }()
	var st LiveStats
	var err error
	if os.Getenv("FWCAP_RESCAN") != "" {
		// Every interface that is up, relisted every 100 ms; the log
		// says when one is captured or released.
		opt.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		st, err = RunLiveAll(stop, opt, 100*time.Millisecond)
	} else {
		st, err = RunLive(stop, ifs, opt)
	}
	out.Flush()
	fmt.Fprintf(os.Stderr, "STATS %+v\n", st)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// netLab is two namespaces joined by a veth pair: a (10.231.0.1, fd00:231::1)
// and b (10.231.0.2, fd00:231::2), plus an idle veth pair inside a (IPv6
// off, so the kernel sends nothing on it).
type netLab struct {
	t      *testing.T
	a, b   string
	va, vb string
	// stderr has the capture child's stderr lines.
	stderr chan string
}

// waitStderr waits for a line of the child's stderr that ok accepts.
func (l *netLab) waitStderr(what string, ok func(string) bool) {
	l.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ln := <-l.stderr:
			if ok(ln) {
				return
			}
		case <-timeout:
			l.t.Fatalf("capture child: no %s within 10 s", what)
		}
	}
}

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture test needs root (network namespaces, AF_PACKET); skipping")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("live capture test needs iproute2's ip; skipping")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("live capture test needs python3 to make traffic; skipping")
	}
	id := os.Getpid() % 100000
	l := &netLab{t: t, a: fmt.Sprintf("fwcapA%d", id), b: fmt.Sprintf("fwcapB%d", id),
		va: fmt.Sprintf("fwa%d", id), vb: fmt.Sprintf("fwb%d", id)}
	if err := exec.Command("ip", "netns", "add", l.a).Run(); err != nil {
		t.Skipf("cannot create network namespaces (%v); skipping", err)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", l.a).Run()
		exec.Command("ip", "netns", "del", l.b).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", l.b},
		{"link", "add", l.va, "netns", l.a, "type", "veth", "peer", "name", l.vb, "netns", l.b},
		{"-n", l.a, "addr", "add", "10.231.0.1/24", "dev", l.va},
		{"-n", l.b, "addr", "add", "10.231.0.2/24", "dev", l.vb},
		{"-n", l.a, "addr", "add", "fd00:231::1/64", "dev", l.va, "nodad"},
		{"-n", l.b, "addr", "add", "fd00:231::2/64", "dev", l.vb, "nodad"},
		{"-n", l.a, "link", "add", "idle0", "type", "veth", "peer", "name", "idle1"},
		{"netns", "exec", l.a, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/idle0/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/idle1/disable_ipv6"},
		{"-n", l.a, "addr", "add", "10.232.0.1/24", "dev", "idle0"},
		{"-n", l.a, "link", "set", "idle0", "up"},
		{"-n", l.a, "link", "set", "idle1", "up"},
		{"-n", l.a, "link", "set", l.va, "up"},
		{"-n", l.b, "link", "set", l.vb, "up"},
		{"-n", l.a, "link", "set", "lo", "up"},
		{"-n", l.b, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return l
}

// startCapture runs the capturing child in namespace a.
func (l *netLab) startCapture(ifs string, env ...string) (wait func() []string) {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", l.a, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"FWCAP_CHILD=" + ifs}, env...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	ready := make(chan bool, 1)
	var errText strings.Builder
	l.stderr = make(chan string, 1000)
	go func() {
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			if sc.Text() == "READY" {
				ready <- true
			}
			select {
			case l.stderr <- sc.Text():
			default:
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			l.t.Fatalf("capture child failed:\n%s", errText.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		l.t.Fatal("capture child not ready")
	}
	return func() []string {
		time.Sleep(300 * time.Millisecond) // let the last packets reach the ring
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			l.t.Fatalf("capture child: %v\n%s", err, errText.String())
		}
		l.t.Logf("child: %s (cpu %v)", strings.TrimSpace(errText.String()), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		return strings.Split(strings.TrimSpace(stdout.String()), "\n")
	}
}

func (l *netLab) python(ns, script string) *exec.Cmd {
	return exec.Command("ip", "netns", "exec", ns, "python3", "-c", script)
}

// sendUDP3 sends, from namespace b, three datagrams of 20 fill bytes from
// src:sport to dst:7777.
func (l *netLab) sendUDP3(src string, sport int, dst, fill string) {
	l.t.Helper()
	if out, err := l.python(l.b, fmt.Sprintf(`
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((%q, %d))
for i in range(3):
    u.sendto(b%q * 20, (%q, 7777))
`, src, sport, fill, dst)).CombinedOutput(); err != nil {
		l.t.Fatalf("sender: %v\n%s", err, out)
	}
}

const serverPy = `
import socket, threading
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("10.231.0.1", 8080)); t.listen(1)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("fd00:231::1", 5353))
print("up", flush=True)
c, _ = t.accept()
got = b""
while len(got) < 100:
    got += c.recv(100 - len(got))
c.sendall(b"y" * 1000)
c.shutdown(socket.SHUT_WR)
c.recv(10)
c.close()
d, a = u.recvfrom(100)
u.sendto(d * 2, a)
`

const clientPy = `
import socket, struct, time
c = socket.create_connection(("10.231.0.1", 8080), source_address=("10.231.0.2", 40001))
c.sendall(b"x" * 100)
got = b""
while True:
    b = c.recv(4096)
    if not b: break
    got += b
assert len(got) == 1000, len(got)
c.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("fd00:231::2", 40002))
u.sendto(b"q" * 50, ("fd00:231::1", 5353))
u.settimeout(5); u.recvfrom(200)
# ICMP echo with a 56-byte payload, as ping sends.
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
body = b"p" * 56
h = struct.pack("!BBHHH", 8, 0, 0, 7, 1)
h = struct.pack("!BBHHH", 8, 0, csum(h + body), 7, 1)
s.sendto(h + body, ("10.231.0.1", 0))
s.settimeout(5); s.recvfrom(200)
`

type flowSum struct {
	packets, bytes int64
	flags          int64
	dir            string
	start, end     int64
}

// sumFlows adds up records by "src dst sport dport proto" (windows may
// split a flow) and returns the NODATA/SKIPDATA records per interface.
func sumFlows(t *testing.T, lines []string) (map[string]*flowSum, map[string][]string) {
	flows := map[string]*flowSum{}
	other := map[string][]string{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		r, err := flowlog.ParseLine(l, liveFormat)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if r.LogStatus != flowlog.StatusOK {
			other[r.InterfaceID] = append(other[r.InterfaceID], r.LogStatus.String())
			continue
		}
		if r.Action != flowlog.ActionAccept || r.End < r.Start {
			t.Errorf("bad record %q", l)
		}
		k := fmt.Sprintf("%s %s %d %d %d", r.SrcAddr, r.DstAddr, r.SrcPort, r.DstPort, r.Protocol)
		s := flows[k]
		if s == nil {
			s = &flowSum{dir: r.FlowDirection.String(), start: r.Start}
			flows[k] = s
		}
		s.packets += r.Packets
		s.bytes += r.Bytes
		s.flags |= int64(r.TCPFlags)
		s.end = r.End
		if r.PktSrcAddr != r.SrcAddr || r.PktDstAddr != r.DstAddr {
			t.Errorf("pkt addresses differ on a host without secondary addresses: %q", l)
		}
	}
	return flows, other
}

func TestLiveVeth(t *testing.T) {
	l := newNetLab(t)
	wait := l.startCapture(l.va+",idle0", "FWCAP_INTERVAL=2")
	srv := l.python(l.a, serverPy)
	so, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(so).ReadString('\n') // "up"
	if out, err := l.python(l.b, clientPy).CombinedOutput(); err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
	time.Sleep(4500 * time.Millisecond) // two idle 2 s windows for NODATA
	lines := wait()
	flows, other := sumFlows(t, lines)
	for k, s := range flows {
		t.Logf("%s: %+v", k, *s)
	}

	// Only the namespaces' own traffic, and every flow as expected.
	want := map[string]struct {
		dir            string
		packets, bytes int64
		flags          int64
	}{
		// UDP over IPv6: 40 + 8 + 50 and 40 + 8 + 100 bytes.
		"fd00:231::2 fd00:231::1 40002 5353 17": {"ingress", 1, 98, 0},
		"fd00:231::1 fd00:231::2 5353 40002 17": {"egress", 1, 148, 0},
		// ICMP echo and reply, ports 0, 84 bytes each.
		"10.231.0.2 10.231.0.1 0 0 1": {"ingress", 1, 84, 0},
		"10.231.0.1 10.231.0.2 0 0 1": {"egress", 1, 84, 0},
	}
	for k, w := range want {
		s := flows[k]
		if s == nil {
			t.Errorf("no record for %s", k)
			continue
		}
		if s.dir != w.dir || s.packets != w.packets || s.bytes != w.bytes || s.flags != w.flags {
			t.Errorf("%s: got %+v, want %+v", k, *s, w)
		}
	}
	// TCP: the client's flow has SYN|FIN (3), the server's SYN-ACK|FIN
	// (19); bytes are IP lengths: 100 payload bytes one way, 1000 the
	// other, plus a header per packet (with timestamps options, 52 or 60).
	cli, srvf := flows["10.231.0.2 10.231.0.1 40001 8080 6"], flows["10.231.0.1 10.231.0.2 8080 40001 6"]
	if cli == nil || srvf == nil {
		t.Fatalf("missing TCP records")
	}
	if cli.dir != "ingress" || cli.flags != 3 || srvf.dir != "egress" || srvf.flags != 19 {
		t.Errorf("TCP flags/directions: client %+v server %+v", *cli, *srvf)
	}
	if cli.packets < 4 || cli.bytes != 100+cli.packets*52 && cli.bytes != 100+cli.packets*52+8 {
		t.Errorf("client flow: %d packets %d bytes", cli.packets, cli.bytes)
	}
	if srvf.packets < 3 || srvf.bytes != 1000+srvf.packets*52 && srvf.bytes != 1000+srvf.packets*52+8 {
		t.Errorf("server flow: %d packets %d bytes", srvf.packets, srvf.bytes)
	}
	// Anything else would be traffic the test did not make (IPv6 neighbour
	// discovery and MLD are the kernel's own and allowed).
	for k := range flows {
		if _, ok := want[k]; ok || strings.Contains(k, " 6") && (strings.Contains(k, "40001") || strings.Contains(k, "8080")) {
			continue
		}
		if !strings.HasSuffix(k, " 58") && !strings.HasSuffix(k, " 2") { // ICMPv6 ND/MLD, IGMP
			t.Errorf("unexpected flow %s", k)
		}
	}
	// The idle interface yields only NODATA records. (The veth itself is
	// not reliably idle afterwards: the kernel's IPv6 router solicitations
	// and MLD reports come every few seconds.)
	okIDs := map[string]bool{}
	for _, ln := range lines {
		f := strings.Fields(ln)
		// The kernel's own ICMPv6 (ND, MLD) and IGMP can reach even the
		// idle pair on a loaded machine; only the test's traffic counts.
		if strings.HasSuffix(f[11], "OK") && f[5] != "58" && f[5] != "2" {
			okIDs[f[0]] = true
		}
	}
	idle := 0
	for id, st := range other {
		if okIDs[id] {
			continue
		}
		idle++
		if len(st) < 2 {
			t.Errorf("idle interface %s: %v, want a NODATA per 2 s window", id, st)
		}
		for _, s := range st {
			if s != "NODATA" {
				t.Errorf("idle interface %s: %s record", id, s)
			}
		}
	}
	if idle != 1 || len(okIDs) != 1 {
		t.Errorf("interfaces with traffic %v, idle ones %d (NODATA: %v)", okIDs, idle, other)
	}
}

const floodPy = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000):
    u.sendto(b"f" * 200, ("10.231.0.1", 9999))
`

// TestLiveSkipData overflows a tiny ring while the child is not reading:
// the kernel's drop counter must turn into a SKIPDATA record.
func TestLiveSkipData(t *testing.T) {
	l := newNetLab(t)
	wait := l.startCapture(l.va, "FWCAP_INTERVAL=60", "FWCAP_SMALL_RING=1")
	if out, err := l.python(l.b, floodPy).CombinedOutput(); err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second) // the child stalls 2 s before reading
	lines := wait()
	_, other := sumFlows(t, lines)
	skip := 0
	for _, st := range other {
		for _, s := range st {
			if s == "SKIPDATA" {
				skip++
			}
		}
	}
	if skip == 0 {
		t.Fatalf("no SKIPDATA record after a ring overflow:\n%s", strings.Join(lines, "\n"))
	}
}

const probePy = `
import socket
s = socket.socket()
s.settimeout(2.5)
try:
    s.connect(("10.231.0.1", 22))
    raise SystemExit("connected through the drop rule")
except socket.timeout:
    pass
`

// TestLiveReject drops TCP/22 with nftables in namespace a and logs the
// drops to nflog group 7: the probe must appear only as REJECT.
func TestLiveReject(t *testing.T) {
	l := newNetLab(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft; skipping")
	}
	for _, c := range [][]string{
		{"add", "table", "inet", "fwtest"},
		{"add", "chain", "inet", "fwtest", "input", "{ type filter hook input priority 0; }"},
		{"add", "rule", "inet", "fwtest", "input", "tcp", "dport", "22", "log", "group", "7", "drop"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", l.a, "nft"}, c...)...).CombinedOutput(); err != nil {
			t.Skipf("nft %v: %v %s; skipping", c, err, out)
		}
	}
	wait := l.startCapture(l.va, "FWCAP_INTERVAL=60", "FWCAP_NFLOG=7")
	if out, err := l.python(l.b, probePy).CombinedOutput(); err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	lines := wait()
	var rejects, accepts []string
	for _, ln := range lines {
		if !strings.Contains(ln, " 10.231.0.1 ") || !strings.Contains(ln, " 22 6 ") {
			continue
		}
		if strings.Contains(ln, " REJECT ") {
			rejects = append(rejects, ln)
		} else {
			accepts = append(accepts, ln)
		}
	}
	if len(rejects) != 1 || len(accepts) != 0 {
		t.Fatalf("port 22 records: reject %q accept %q\nall:\n%s", rejects, accepts, strings.Join(lines, "\n"))
	}
	r, err := flowlog.ParseLine(rejects[0], liveFormat)
	if err != nil {
		t.Fatal(err)
	}
	// connect() sends a SYN and retransmits it after 1 s and 3 s.
	if r.Packets < 2 || r.Packets > 3 || r.Bytes != 60*r.Packets || r.TCPFlags != 2 || r.FlowDirection != flowlog.DirIngress {
		t.Errorf("REJECT record %q", rejects[0])
	}
	for _, ln := range lines {
		if strings.Contains(ln, " 22 ") && strings.Contains(ln, " egress ") && strings.Contains(ln, " 6 ") {
			t.Errorf("a reply left the host: %q", ln)
		}
	}
}

// flood sends small UDP datagrams from 10.231.0.2 to 10.231.0.1 over many
// ports for the given duration and prints how many it sent.
func flood(d string) int {
	dur, _ := time.ParseDuration(d)
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 231, 0, 2)}, &net.UDPAddr{IP: net.IPv4(10, 231, 0, 1), Port: 9})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	msg := make([]byte, 18)
	end := time.Now().Add(dur)
	n := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			// A write fails (ECONNREFUSED) after an ICMP port unreachable
			// comes back; only datagrams that left count.
			if _, err := c.Write(msg); err == nil {
				n++
			}
		}
	}
	fmt.Println(n)
	return 0
}

// TestLiveThroughput floods the veth for FWCAP_PERF seconds and reports the
// capture's packet rate, kernel drops and CPU time. It is a measurement,
// not a pass/fail test, and runs only when asked: FWCAP_PERF=10 go test -run Throughput -v
// Its sender is a UDP socket (about 140k packets/s here); the issue's
// 300k packets/s for 60 s is scripts/bench-live.sh, with an AF_PACKET
// generator.
func TestLiveThroughput(t *testing.T) {
	secs := os.Getenv("FWCAP_PERF")
	if secs == "" {
		t.Skip("set FWCAP_PERF=SECONDS to measure live capture throughput")
	}
	l := newNetLab(t)
	wait := l.startCapture(l.va, "FWCAP_INTERVAL=60")
	cmd := exec.Command("ip", "netns", "exec", l.b, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FWCAP_FLOOD="+secs+"s")
	t0 := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(t0)
	sent, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	lines := wait()
	flows, other := sumFlows(t, lines)
	var got int64
	for k, s := range flows {
		if strings.HasSuffix(k, " 17") && strings.Contains(k, " 9 ") {
			got += s.packets
		}
	}
	t.Logf("sent %d in %v (%.0f pps), captured %d, SKIPDATA/NODATA %v", sent, el, float64(sent)/el.Seconds(), got, other)
	if got != int64(sent) {
		t.Errorf("captured %d of %d packets", got, sent)
	}
}

// TestLiveRescan: with RunLiveAll, an interface created while capture runs
// is captured once a rescan lists it, and one deleted is released (its
// window emitted).
func TestLiveRescan(t *testing.T) {
	l := newNetLab(t)
	wait := l.startCapture(l.va, "FWCAP_INTERVAL=60", "FWCAP_RESCAN=1")
	id := os.Getpid() % 100000
	da, db := fmt.Sprintf("fwd%d", id), fmt.Sprintf("fwe%d", id)
	for _, c := range [][]string{
		{"link", "add", da, "netns", l.a, "type", "veth", "peer", "name", db, "netns", l.b},
		{"-n", l.a, "addr", "add", "10.236.0.1/24", "dev", da},
		{"-n", l.b, "addr", "add", "10.236.0.2/24", "dev", db},
		{"-n", l.a, "link", "set", da, "up"},
		{"-n", l.b, "link", "set", db, "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	l.waitStderr("capture of "+da, func(s string) bool { return strings.Contains(s, "msg=capturing interface="+da) })
	l.sendUDP3("10.236.0.2", 40003, "10.236.0.1", "r")
	time.Sleep(300 * time.Millisecond) // the ring's block timeout
	if out, err := exec.Command("ip", "-n", l.a, "link", "del", da).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v\n%s", err, out)
	}
	l.waitStderr(da+" released", func(s string) bool {
		return strings.Contains(s, "interface="+da) && (strings.Contains(s, "is gone") || strings.Contains(s, "capture stopped"))
	})
	lines := wait()
	var got []string
	for _, ln := range lines {
		if f := strings.Fields(ln); len(f) > 5 && f[1] == "10.236.0.2" && f[4] == "7777" {
			got = append(got, ln)
		}
	}
	// 3 datagrams of 20 + 28 bytes, ingress on the new interface.
	if len(got) != 1 || !strings.Contains(got[0], " 40003 7777 17 3 144 ") || !strings.Contains(got[0], " ingress ") {
		t.Fatalf("records of the new interface's flow: %q", got)
	}
}

// TestLiveLinkDownUp: an interface that goes down and comes back keeps
// being captured (the kernel's ENETDOWN is read and cleared, not spun on).
func TestLiveLinkDownUp(t *testing.T) {
	l := newNetLab(t)
	wait := l.startCapture(l.va, "FWCAP_INTERVAL=60")
	for _, st := range []string{"down", "up"} {
		if out, err := exec.Command("ip", "-n", l.a, "link", "set", l.va, st).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s: %v\n%s", st, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	l.sendUDP3("10.231.0.2", 40005, "10.231.0.1", "d")
	flows, _ := sumFlows(t, wait())
	if s := flows["10.231.0.2 10.231.0.1 40005 7777 17"]; s == nil || s.packets != 3 || s.bytes != 3*48 {
		t.Fatalf("flow after the link came back: %+v", s)
	}
}

// goneChild captures on interfaces it creates and deletes, as containers
// come and go, and reports how many the Live still holds.
func goneChild() int {
	l, err := StartLive(LiveOptions{MachineID: "live-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("fwgone%d", i)
		for _, c := range [][]string{{"link", "add", name, "type", "veth", "peer", "name", name + "p"}, {"link", "set", name, "up"}} {
			if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "ip %v: %v %s\n", c, err, out)
				return 1
			}
		}
		if err := l.Add(name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip link del: %v %s\n", err, out)
			return 1
		}
		deadline := time.Now().Add(5 * time.Second)
		for slices.Contains(l.Names(), name) {
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "capture of %s did not end\n", name)
				return 1
			}
			time.Sleep(20 * time.Millisecond)
		}
		// As RunLiveAll does after every listing.
		if err := l.Sync(nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	l.mu.Lock()
	held := len(l.ifs)
	l.mu.Unlock()
	if _, err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("HELD %d\n", held)
	return 0
}

// TestLiveGoneReleased: an interface deleted under the capture is let go
// of entirely (its ring, and its state with a 4096-event reject queue), not
// kept as an ended entry for as long as the Live runs; a host whose
// containers come and go would otherwise grow without bound.
func TestLiveGoneReleased(t *testing.T) {
	l := newNetLab(t)
	out, err := exec.Command("ip", "netns", "exec", l.a, "env", "FWCAP_GONE=1", os.Args[0], "-test.run=^$").CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "HELD 0\n") {
		t.Fatalf("deleted interfaces still held:\n%s", out)
	}
}
