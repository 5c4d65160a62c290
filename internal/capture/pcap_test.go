package capture

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/capture/pcaptest"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"net/netip"
)

var update = flag.Bool("update", false, "rewrite testdata pcaps and golden files")

// synthFrames returns frames of a synthetic capture, in memory.
func synthFrames(tb testing.TB, n int, uniform bool) [][]byte {
	var buf bytes.Buffer
	if err := pcaptest.WriteSynth(&buf, pcaptest.SynthConfig{Seed: 1, Packets: n, Uniform: uniform}); err != nil {
		tb.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	// One contiguous arena, as frames sit in a file or a ring.
	arena := make([]byte, 0, buf.Len())
	var offs []int
	for {
		d, _, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		offs = append(offs, len(arena))
		arena = append(arena, d...)
	}
	offs = append(offs, len(arena))
	fs := make([][]byte, len(offs)-1)
	for i := range fs {
		fs[i] = arena[offs[i]:offs[i+1]:offs[i+1]]
	}
	return fs
}

// writeScenario crafts the golden capture: a TCP connection, DNS, ping,
// IPv6 with an extension header, a VLAN-tagged flow, a GRE packet, an ARP
// frame, a truncated and a malformed frame, an idle minute, and a second
// window.
func writeScenario(t *testing.T, path string) {
	var buf bytes.Buffer
	w, err := pcaptest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_800_000_000, 0)
	at := func(sec float64) time.Time { return base.Add(time.Duration(sec * float64(time.Second))) }
	peer := pcaptest.Host{MAC: hostB.MAC, Addr: hostB.Addr}
	tcp := func(sec float64, src, dst pcaptest.Host, sp, dp uint16, flags uint8, payload int) {
		w.Write(at(sec), pcaptest.Frame(pcaptest.Spec{Src: src, Dst: dst, Proto: layers.IPProtocolTCP, SrcPort: sp, DstPort: dp, Flags: flags, Payload: payload}))
	}
	tcp(1, hostA, peer, 40000, 22, 0x02, 0)
	tcp(1.1, peer, hostA, 22, 40000, 0x12, 0)
	tcp(1.2, hostA, peer, 40000, 22, 0x10, 0)
	tcp(2, hostA, peer, 40000, 22, 0x18, 200)
	tcp(3, peer, hostA, 22, 40000, 0x18, 1000)
	tcp(4, hostA, peer, 40000, 22, 0x11, 0)
	tcp(4.1, peer, hostA, 22, 40000, 0x11, 0)
	udp := pcaptest.Spec{Src: hostA, Dst: peer, Proto: layers.IPProtocolUDP, SrcPort: 33333, DstPort: 53, Payload: 30}
	w.Write(at(5), pcaptest.Frame(udp))
	udp.Src, udp.Dst, udp.SrcPort, udp.DstPort, udp.Payload = peer, hostA, 53, 33333, 90
	w.Write(at(5.01), pcaptest.Frame(udp))
	w.Write(at(6), pcaptest.Frame(pcaptest.Spec{Src: peer, Dst: hostA, Proto: layers.IPProtocolICMPv4, Payload: 56}))
	w.Write(at(6.01), pcaptest.Frame(pcaptest.Spec{Src: hostA, Dst: peer, Proto: layers.IPProtocolICMPv4, Payload: 56}))
	w.Write(at(7), pcaptest.Frame(pcaptest.Spec{Src: hostA6, Dst: hostB6, Proto: layers.IPProtocolTCP, SrcPort: 50000, DstPort: 443, Flags: 0x02, HopByHop: true}))
	w.Write(at(8), pcaptest.Frame(pcaptest.Spec{Src: hostA, Dst: peer, Proto: layers.IPProtocolUDP, SrcPort: 4789, DstPort: 4789, VLAN: 100, Payload: 50}))
	w.Write(at(9), pcaptest.Frame(pcaptest.Spec{Src: hostA, Dst: peer, Proto: layers.IPProtocolGRE, Payload: 20}))
	arp := pcaptest.Frame(pcaptest.Spec{Src: hostA, Dst: peer, Proto: layers.IPProtocolTCP})
	arp[12], arp[13] = 0x08, 0x06
	w.Write(at(10), arp)
	trunc := pcaptest.Frame(pcaptest.Spec{Src: peer, Dst: hostA, Proto: layers.IPProtocolTCP, SrcPort: 1, DstPort: 2})
	w.WriteTruncated(at(11), trunc, 14+20+6)
	bad := pcaptest.Frame(pcaptest.Spec{Src: peer, Dst: hostA, Proto: layers.IPProtocolTCP, SrcPort: 1, DstPort: 2})
	bad[14] = 0x42
	w.Write(at(12), bad)
	// Minute 1 is idle; minute 2 has a rejected-looking probe from outside.
	tcp(125, pcaptest.Host{MAC: hostB.MAC, Addr: netip4("198.51.100.9")}, hostA, 51515, 3389, 0x02, 0)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPcapGolden(t *testing.T) {
	pcap := filepath.Join("testdata", "scenario.pcap")
	golden := filepath.Join("testdata", "scenario.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		writeScenario(t, pcap)
	}
	formats := []*flowlog.Format{flowlog.DefaultFormat, flowlog.MustParseFormat(flowlog.KnowledgeCenterFormatString)}
	var out strings.Builder
	for _, f := range formats {
		res, err := ProcessPcap(pcap, PcapOptions{MachineID: "golden", Identity: Identity{AccountID: "123456789012"},
			Table: TableConfig{Interval: 60, Emit: func(r *flowlog.Record) {
				out.Write(flowlog.AppendText(nil, r, f))
				out.WriteByte('\n')
			}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Frames != 18 || res.Truncated != 1 || res.Malformed != 1 || res.NotIP != 1 || res.Packets != 15 {
			t.Errorf("result %+v", res)
		}
		if len(res.Interfaces) != 1 || res.Interfaces[0].MAC != [6]byte(hostA.MAC) {
			t.Errorf("inferred interface %+v", res.Interfaces)
		}
	}
	if *update {
		os.WriteFile(golden, []byte(out.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, out.String())
	}
}

// TestPcapSynthTotals runs a synthetic capture through ProcessPcap and
// checks that the records account for every packet and byte.
func TestPcapSynthTotals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "synth.pcap")
	fh, _ := os.Create(path)
	if err := pcaptest.WriteSynth(fh, pcaptest.SynthConfig{Seed: 2, Packets: 300000, Flows: 2000, Snaplen: 96}); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	var packets, bytes int64
	var records int
	res, err := ProcessPcap(path, PcapOptions{MachineID: "m", Table: TableConfig{Interval: 60, Emit: func(r *flowlog.Record) {
		if r.LogStatus == flowlog.StatusOK {
			packets += r.Packets
			bytes += r.Bytes
			records++
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if packets != 300000 || uint64(bytes) != res.Bytes || res.Frames != 300000 {
		t.Fatalf("records hold %d packets %d bytes; result %+v", packets, bytes, res)
	}
	// Snaplen cut the frames, not the byte counts: responses carry 1200
	// payload bytes, so the average IP length is far above 96.
	if bytes/packets < 400 {
		t.Errorf("bytes per packet %d: counted from captured length?", bytes/packets)
	}
	// 3 s of capture, one window: one record per flow and direction seen.
	if records < 3000 || records > 4000 {
		t.Errorf("records = %d", records)
	}
}

// BenchmarkProcessPcap is the offline path end to end: a pcap of 1M
// packets read from a file (mmap), decoded and aggregated. Snaplen 128 is
// how flow capture tools record; Full keeps whole frames (770 bytes on
// average), which makes the run a memory-bandwidth test.
func BenchmarkProcessPcapSnap128(b *testing.B) { benchProcessPcap(b, 128) }
func BenchmarkProcessPcapFull(b *testing.B)    { benchProcessPcap(b, 0) }

func benchProcessPcap(b *testing.B, snaplen int) {
	path := filepath.Join(b.TempDir(), "synth.pcap")
	fh, _ := os.Create(path)
	const n = 1_000_000
	if err := pcaptest.WriteSynth(fh, pcaptest.SynthConfig{Seed: 1, Packets: n, Snaplen: snaplen}); err != nil {
		b.Fatal(err)
	}
	fh.Close()
	var loops int
	runtime.LockOSThread()
	c0 := threadCPU()
	for b.Loop() {
		if _, err := ProcessPcap(path, PcapOptions{MachineID: "m", Table: TableConfig{Interval: 60}}); err != nil {
			b.Fatal(err)
		}
		loops++
	}
	b.ReportMetric(float64(n*loops)/(threadCPU()-c0).Seconds(), "packets/cpu-s")
	b.ReportMetric(float64(n*loops)/b.Elapsed().Seconds(), "packets/s")
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestPcapng reads the golden scenario rewritten as pcapng (the pcapgo
// path, not the mmap one) and expects the same records.
func TestPcapng(t *testing.T) {
	in, err := os.Open(filepath.Join("testdata", "scenario.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	ngPath := filepath.Join(t.TempDir(), "scenario.pcapng")
	out, _ := os.Create(ngPath)
	w, err := pcapgo.NewNgWriter(out, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	out.Close()
	f := flowlog.MustParseFormat("${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${tcp-flags} ${flow-direction} ${log-status}")
	run := func(path string) string {
		var b strings.Builder
		_, err := ProcessPcap(path, PcapOptions{MachineID: "m", Table: TableConfig{Interval: 60, Emit: func(r *flowlog.Record) {
			b.Write(flowlog.AppendText(nil, r, f))
			b.WriteByte('\n')
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := run(filepath.Join("testdata", "scenario.pcap")), run(ngPath)
	if a != b || strings.Count(a, "\n") != 11 {
		t.Fatalf("pcap and pcapng differ:\n%s\n--\n%s", a, b)
	}
}

// TestPcapBigEndian: a capture written on a big-endian host (every header
// field byte-swapped) gives the same records as the original.
func TestPcapBigEndian(t *testing.T) {
	le, err := os.ReadFile(filepath.Join("testdata", "scenario.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	be := bytes.Clone(le)
	swap := func(b []byte) { b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0] }
	swap16 := func(b []byte) { b[0], b[1] = b[1], b[0] }
	swap(be[0:4])
	swap16(be[4:6])
	swap16(be[6:8])
	for i := 8; i < 24; i += 4 {
		swap(be[i : i+4])
	}
	for off := 24; off+16 <= len(be); {
		n := int(binary.LittleEndian.Uint32(le[off+8:]))
		for i := off; i < off+16; i += 4 {
			swap(be[i : i+4])
		}
		off += 16 + n
	}
	path := filepath.Join(t.TempDir(), "be.pcap")
	if err := os.WriteFile(path, be, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(p string) string {
		var out strings.Builder
		if _, err := ProcessPcap(p, PcapOptions{MachineID: "golden", Table: TableConfig{Interval: 60, Emit: func(r *flowlog.Record) {
			out.Write(flowlog.AppendText(nil, r, flowlog.DefaultFormat))
			out.WriteByte('\n')
		}}}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	want := run(filepath.Join("testdata", "scenario.pcap"))
	if got := run(path); got != want || want == "" {
		t.Errorf("big-endian capture gives\n%s\nwant\n%s", got, want)
	}
}
