package capture

import (
	"fmt"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// collect returns a table over one interface for hostA (10.1.0.10/24) and
// the lines it emits in the given format.
func collect(cfg TableConfig, f *flowlog.Format) (*Table, *[]string) {
	var out []string
	cfg.Emit = func(r *flowlog.Record) { out = append(out, string(flowlog.AppendText(nil, r, f))) }
	it := NewInterface(Identity{}.Fill("test-machine"), "eth0", [6]byte{2, 0, 0, 0, 0, 0xa}, true,
		[]netip.Prefix{netip.MustParsePrefix("10.1.0.10/24"), netip.MustParsePrefix("fd00::a/64")})
	return NewTable(cfg, []*Interface{it}), &out
}

var testFormat = flowlog.MustParseFormat("${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${flow-direction} ${traffic-path} ${pkt-srcaddr} ${pkt-dstaddr} ${type}")

func pkt(src, dst string, proto uint8, sp, dp uint16, flags uint8, length uint32) *Packet {
	return &Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: proto,
		SrcPort: sp, DstPort: dp, TCPFlags: flags, Length: length}
}

const t0 = int64(1_800_000_000) * 1e9 // a window boundary for 60 and 600 s

func TestTableTCPConnection(t *testing.T) {
	tb, out := collect(TableConfig{Interval: 60}, testFormat)
	s := func(sec float64) int64 { return t0 + int64(sec*1e9) }
	// Client 10.1.0.10 connects to 198.51.100.7:443: SYN, SYN-ACK, ACK,
	// data with PSH, FIN/ACK both ways.
	tb.Add(0, s(1), pkt("10.1.0.10", "198.51.100.7", 6, 40000, 443, 0x02, 60))
	tb.Add(0, s(1.01), pkt("198.51.100.7", "10.1.0.10", 6, 443, 40000, 0x12, 60))
	tb.Add(0, s(1.02), pkt("10.1.0.10", "198.51.100.7", 6, 40000, 443, 0x10, 52))
	tb.Add(0, s(2), pkt("10.1.0.10", "198.51.100.7", 6, 40000, 443, 0x18, 152))
	tb.Add(0, s(3), pkt("198.51.100.7", "10.1.0.10", 6, 443, 40000, 0x18|0x40, 1052))
	tb.Add(0, s(4), pkt("10.1.0.10", "198.51.100.7", 6, 40000, 443, 0x11, 52))
	tb.Add(0, s(4.5), pkt("198.51.100.7", "10.1.0.10", 6, 443, 40000, 0x11, 52))
	// A ping inside the subnet, in the same window.
	tb.Add(0, s(10), pkt("10.1.0.10", "10.1.0.20", 1, 0, 0, 0, 84))
	tb.Add(0, s(10.1), pkt("10.1.0.20", "10.1.0.10", 1, 0, 0, 0, 84))
	tb.Flush()
	want := []string{
		"10.1.0.10 198.51.100.7 40000 443 6 4 316 1800000001 1800000004 ACCEPT OK 3 egress - 10.1.0.10 198.51.100.7 IPv4",
		"198.51.100.7 10.1.0.10 443 40000 6 3 1164 1800000001 1800000004 ACCEPT OK 19 ingress - 198.51.100.7 10.1.0.10 IPv4",
		"10.1.0.10 10.1.0.20 0 0 1 1 84 1800000010 1800000010 ACCEPT OK 0 egress 1 10.1.0.10 10.1.0.20 IPv4",
		"10.1.0.20 10.1.0.10 0 0 1 1 84 1800000010 1800000010 ACCEPT OK 0 ingress - 10.1.0.20 10.1.0.10 IPv4",
	}
	if got := strings.Join(*out, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if st := tb.Stats(); st.Packets != 9 || st.Records != 4 || st.Bytes != 316+1164+168 {
		t.Errorf("stats %+v", st)
	}
}

func TestTableFlags(t *testing.T) {
	for _, c := range []struct {
		flags []uint8
		want  string
	}{
		{[]uint8{0x10}, "0"},             // bare ACK
		{[]uint8{0x18, 0x20, 0x80}, "0"}, // PSH, URG, CWR
		{[]uint8{0x42}, "2"},             // SYN+ECE
		{[]uint8{0x12}, "18"},            // SYN-ACK
		{[]uint8{0x02, 0x11}, "3"},       // client short connection
		{[]uint8{0x12, 0x11}, "19"},      // server short connection
		{[]uint8{0x04}, "4"},
		{[]uint8{0x12, 0x14}, "22"},
		{[]uint8{0x12, 0x15}, "23"},
		{[]uint8{0x02, 0x14, 0x01}, "7"},
	} {
		tb, out := collect(TableConfig{Interval: 60}, flowlog.MustParseFormat("${tcp-flags}"))
		for _, f := range c.flags {
			tb.Add(0, t0, pkt("10.1.0.10", "10.1.0.20", 6, 1, 2, f, 40))
		}
		tb.Flush()
		if len(*out) != 1 || (*out)[0] != c.want {
			t.Errorf("flags %x: %v, want %s", c.flags, *out, c.want)
		}
	}
}

func TestTableWindowsAndNoData(t *testing.T) {
	f := flowlog.MustParseFormat("${srcport} ${packets} ${start} ${end} ${log-status}")
	tb, out := collect(TableConfig{Interval: 60, Start: t0}, f)
	tb.Add(0, t0+5e9, pkt("10.1.0.20", "10.1.0.10", 17, 1000, 53, 0, 60))
	tb.Add(0, t0+59e9, pkt("10.1.0.20", "10.1.0.10", 17, 1000, 53, 0, 60))
	tb.Add(0, t0+61e9, pkt("10.1.0.20", "10.1.0.10", 17, 1000, 53, 0, 60)) // next window
	tb.Add(0, t0+30e9, pkt("10.1.0.20", "10.1.0.10", 17, 1000, 53, 0, 60)) // late
	tb.Advance(t0 + 250e9)                                                 // windows 2 and 3 idle
	tb.Flush()                                                             // window 4 idle too
	want := "1000 2 1800000005 1800000059 OK|1000 2 1800000030 1800000061 OK|- - 1800000120 1800000180 NODATA|- - 1800000180 1800000240 NODATA|- - 1800000240 1800000300 NODATA"
	if got := strings.Join(*out, "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if st := tb.Stats(); st.Late != 1 || st.NoData != 3 {
		t.Errorf("stats %+v", st)
	}

	// WindowBounds writes the window instead of packet times, and 600 s
	// windows aggregate across minutes.
	tb, out = collect(TableConfig{Interval: 600, WindowBounds: true}, f)
	tb.Add(0, t0+5e9, pkt("10.1.0.20", "10.1.0.10", 17, 7, 53, 0, 60))
	tb.Add(0, t0+400e9, pkt("10.1.0.20", "10.1.0.10", 17, 7, 53, 0, 60))
	tb.Flush()
	if got := strings.Join(*out, "|"); got != "7 2 1800000000 1800000600 OK" {
		t.Fatalf("window bounds: %s", got)
	}
}

func TestTableAddressesAndExclusions(t *testing.T) {
	tb, out := collect(TableConfig{Interval: 60}, testFormat)
	// Traffic to a secondary address is logged against the primary one;
	// the real address is in pkt-dstaddr.
	tb.ifs[0].it.Prefixes = append(tb.ifs[0].it.Prefixes, netip.MustParsePrefix("10.1.0.11/24"))
	tb.Add(0, t0, pkt("203.0.113.5", "10.1.0.11", 6, 5000, 80, 2, 40))
	tb.Add(0, t0, pkt("10.1.0.11", "203.0.113.5", 6, 80, 5000, 0x12, 40))
	// IPv6 keeps its own addresses.
	tb.Add(0, t0, pkt("fd00::a", "fd00::b", 17, 1, 2, 0, 48))
	// Never logged: DHCP, instance metadata, Amazon DNS, time sync.
	tb.Add(0, t0, pkt("0.0.0.0", "255.255.255.255", 17, 68, 67, 0, 328))
	tb.Add(0, t0, pkt("10.1.0.10", "169.254.169.254", 6, 4000, 80, 2, 60))
	tb.Add(0, t0, pkt("10.1.0.10", "169.254.169.253", 17, 4000, 53, 0, 60))
	tb.Add(0, t0, pkt("10.1.0.10", "169.254.169.123", 17, 123, 123, 0, 76))
	tb.Flush()
	want := []string{
		"203.0.113.5 10.1.0.10 5000 80 6 1 40 1800000000 1800000000 ACCEPT OK 2 ingress - 203.0.113.5 10.1.0.11 IPv4",
		"10.1.0.10 203.0.113.5 80 5000 6 1 40 1800000000 1800000000 ACCEPT OK 18 egress - 10.1.0.11 203.0.113.5 IPv4",
		"fd00::a fd00::b 1 2 17 1 48 1800000000 1800000000 ACCEPT OK 0 egress 1 fd00::a fd00::b IPv6",
	}
	if got := strings.Join(*out, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if st := tb.Stats(); st.Excluded != 4 {
		t.Errorf("excluded %d", st.Excluded)
	}
}

func TestTableBounded(t *testing.T) {
	f := flowlog.MustParseFormat("${srcport} ${packets}")
	tb, out := collect(TableConfig{Interval: 60, MaxFlows: 100}, f)
	for round := 0; round < 3; round++ {
		for i := 0; i < 150; i++ {
			tb.Add(0, t0+int64(round)*1e9, pkt("10.1.0.20", "10.1.0.10", 17, uint16(i), 53, 0, 60))
			if tb.Live() > 100 {
				t.Fatalf("table grew to %d", tb.Live())
			}
		}
	}
	tb.Flush()
	var packets int
	for _, l := range *out {
		var port, n int
		fmt.Sscan(l, &port, &n)
		packets += n
	}
	if packets != 450 {
		t.Errorf("packets over all records = %d, want 450", packets)
	}
	if st := tb.Stats(); st.Evicted != 350 || st.Records != 450 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkDecodeAggregate is the capture hot path: decode a frame and add
// it to the flow table, over 10k concurrent flows.
func BenchmarkDecodeAggregate(b *testing.B) { benchDecodeAggregate(b, false) }

// BenchmarkDecodeAggregateUniform draws every packet's flow uniformly: no
// locality at all, the worst case for the table's caches.
func BenchmarkDecodeAggregateUniform(b *testing.B) { benchDecodeAggregate(b, true) }

func benchDecodeAggregate(b *testing.B, uniform bool) {
	frames := synthFrames(b, 200000, uniform)
	it := NewInterface(Identity{}.Fill("bench"), "eth0", [6]byte{2, 0, 0, 0, 0, 1}, true,
		[]netip.Prefix{netip.MustParsePrefix("10.0.0.10/24")})
	tb := NewTable(TableConfig{Interval: 60}, []*Interface{it})
	var p Packet
	i := 0
	ts := t0
	perCPU(b, func() {
		for b.Loop() {
			if Decode(1, frames[i%len(frames)], &p) == nil {
				tb.Add(0, ts, &p)
			}
			i++
			ts += 10000 // 100k packets/s of capture time
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// TestTableMemory1MFlows holds a million concurrent flows and checks the
// table stays well under the 256 MiB bound.
func TestTableMemory1MFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a million flows")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb, _ := collect(TableConfig{Interval: 600, MaxFlows: 1 << 21}, testFormat)
	p := pkt("10.1.0.20", "10.1.0.10", 6, 0, 443, 0x10, 52)
	for i := 0; i < 1_000_000; i++ {
		b := p.Src.As4()
		b[2], b[3] = byte(i>>16), byte(i>>8)
		p.Src = netip.AddrFrom4(b)
		p.SrcPort = uint16(i)
		tb.Add(0, t0+int64(i), p)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tb.Live() != 1_000_000 {
		t.Fatalf("live flows %d", tb.Live())
	}
	used := after.HeapInuse - before.HeapInuse
	t.Logf("1M flows: %d MiB heap", used>>20)
	if used > 256<<20 {
		t.Errorf("table uses %d MiB for 1M flows", used>>20)
	}
	runtime.KeepAlive(tb)
}

// BenchmarkTableMillionFlows fills a table with a million concurrent
// flows per iteration and reports the heap it holds (after a GC, so only
// what is live) as bytes/flow and MiB, the heap the process holds once
// the flows are in, before a GC (with the slices the flow slice outgrew), and
// the CPU time of the inserting thread per new flow. The bound is
// 256 MiB at a million flows.
func BenchmarkTableMillionFlows(b *testing.B) {
	const flows = 1_000_000
	p := pkt("10.1.0.20", "10.1.0.10", 6, 0, 443, 0x10, 52)
	var live, sys uint64
	var cpu time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		debug.FreeOSMemory() // what earlier benchmarks left is not held
		runtime.ReadMemStats(&before)
		tb, _ := collect(TableConfig{Interval: 600}, testFormat)
		b.StartTimer()
		c0 := threadCPU()
		for i := 0; i < flows; i++ {
			a := p.Src.As4()
			a[2], a[3] = byte(i>>16), byte(i>>8)
			p.Src = netip.AddrFrom4(a)
			p.SrcPort = uint16(i)
			tb.Add(0, t0+int64(i), p)
		}
		cpu += threadCPU() - c0
		b.StopTimer()
		if tb.Live() != flows {
			b.Fatalf("live flows %d", tb.Live())
		}
		runtime.ReadMemStats(&after)
		sys = max(sys, after.HeapSys-after.HeapReleased)
		runtime.GC()
		runtime.ReadMemStats(&after)
		live = max(live, after.HeapInuse-before.HeapInuse)
		runtime.KeepAlive(tb)
		b.StartTimer()
	}
	b.ReportMetric(float64(live)/flows, "bytes/flow")
	b.ReportMetric(float64(live)/(1<<20), "live-MiB")
	b.ReportMetric(float64(sys)/(1<<20), "heap-held-MiB")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*flows), "cpu-ns/flow")
}

// TestTableReject: a dropped inbound SYN is seen by the capture (as an
// accepted packet) and reported by the firewall, in either order; it ends
// up only in a REJECT record. Outbound drops never reach the capture.
func TestTableReject(t *testing.T) {
	f := flowlog.MustParseFormat("${srcaddr} ${dstaddr} ${dstport} ${packets} ${bytes} ${action} ${tcp-flags} ${flow-direction}")
	tb, out := collect(TableConfig{Interval: 60}, f)
	syn := pkt("198.51.100.9", "10.1.0.10", 6, 5000, 22, 2, 60)
	syn.Dir = DirIncoming
	tb.Add(0, t0, syn)                  // capture first
	tb.AddReject(0, t0+1e6, syn, false) // then the firewall
	tb.AddReject(0, t0+2e9, syn, false) // firewall first (retransmission)
	tb.Add(0, t0+2e9+1e6, syn)
	// An accepted packet of another flow stays ACCEPT.
	ok := pkt("198.51.100.9", "10.1.0.10", 6, 5001, 80, 2, 60)
	ok.Dir = DirIncoming
	tb.Add(0, t0+3e9, ok)
	// Dropped on the way out: only the firewall sees it.
	tb.AddReject(0, t0+4e9, pkt("10.1.0.10", "192.0.2.1", 17, 4000, 53, 0, 70), true)
	tb.Flush()
	want := "198.51.100.9 10.1.0.10 22 2 120 REJECT 2 ingress|198.51.100.9 10.1.0.10 80 1 60 ACCEPT 2 ingress|10.1.0.10 192.0.2.1 53 1 70 REJECT 0 egress"
	if got := strings.Join(*out, "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if st := tb.Stats(); st.Packets != 4 || st.Bytes != 250 {
		t.Errorf("stats %+v", st)
	}
}

// TestAddBatchSameAsAdd: AddBatch in batches of every size gives the
// records Add gives one packet at a time, in the same order, across
// window boundaries and a full table's evictions.
func TestAddBatchSameAsAdd(t *testing.T) {
	frames := synthFrames(t, 30000, false)
	run := func(batch int) []string {
		tb, out := collect(TableConfig{Interval: 60, MaxFlows: 500}, testFormat)
		var ps [BatchMax]Packet
		var ts [BatchMax]int64
		n := 0
		for i, f := range frames {
			if Decode(1, f, &ps[n]) != nil {
				continue
			}
			ts[n] = t0 + int64(i)*5e6 // 200 packets/s: windows close during the run
			if n++; n == batch {
				if batch == 1 {
					tb.Add(0, ts[0], &ps[0])
				} else {
					tb.AddBatch(0, ts[:n], ps[:n])
				}
				n = 0
			}
		}
		if n > 0 {
			tb.AddBatch(0, ts[:n], ps[:n])
		}
		tb.Flush()
		if tb.Stats().Evicted == 0 {
			t.Fatal("no evictions: the test does not cover them")
		}
		return *out
	}
	want := run(1)
	for _, b := range []int{2, 7, BatchMax} {
		if got := run(b); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("batches of %d: %d records differ from Add's %d", b, len(got), len(want))
		}
	}
}

// TestKeyExcluded: the per-packet exclusion read from the key agrees with
// excluded on the packet.
func TestKeyExcluded(t *testing.T) {
	for _, p := range []*Packet{
		pkt("10.1.0.10", "169.254.169.254", 6, 40000, 80, 2, 60),
		pkt("169.254.169.123", "10.1.0.10", 17, 123, 123, 0, 76),
		pkt("10.1.0.10", "169.254.169.253", 17, 5000, 53, 0, 60),
		pkt("10.1.0.10", "169.254.169.1", 17, 5000, 53, 0, 60),
		pkt("169.254.1.254", "10.1.0.10", 17, 5000, 53, 0, 60),
		pkt("0.0.0.0", "255.255.255.255", 17, 68, 67, 0, 328),
		pkt("10.1.0.10", "10.1.0.1", 17, 67, 80, 0, 328),
		pkt("fe80::1", "ff02::1:2", 17, 546, 547, 0, 100),
		pkt("fe80::1", "ff02::1:2", 17, 546, 53, 0, 100),
		pkt("::ffff:169.254.169.254", "fd00::1", 6, 1, 2, 0, 100),
	} {
		for _, egress := range []bool{false, true} {
			k := makeKey(p, egress)
			if k.excluded() != excluded(p) {
				t.Errorf("%v -> %v %d->%d: key says %v, packet %v", p.Src, p.Dst, p.SrcPort, p.DstPort, k.excluded(), excluded(p))
			}
		}
	}
}
