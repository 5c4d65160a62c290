package collector

import (
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// benchDatagram is a full v9 or IPFIX datagram of 30 flows (what
// softflowd and most routers pack into one), after its template.
func benchV9() (tmpl, data []byte) {
	var recs []v9Rec
	for i := 0; i < 30; i++ {
		recs = append(recs, v9Rec{src: "10.0.1.5", dst: "203.0.113.7", sport: uint16(40000 + i), dport: 443, proto: 6, flags: 0x1b,
			pkts: 10, bytes: 5000, in: 1, out: 2, firstAgo: 20_000, lastAg: 1_000})
	}
	return v9Template(), v9Data(2, recs...)
}

func benchIPFIX() (tmpl, data []byte) {
	// Reuse the v9 layout under IPFIX framing: same information elements.
	t9, d9 := benchV9()
	conv := func(b []byte, setID func(uint16) uint16) []byte {
		body := b[20:]
		w := &wr{}
		w.u16(10).u16(uint16(16 + len(body))).u32(fixUnixSec).u32(1).u32(42)
		out := append(w.b, body...)
		id := uint16(out[16])<<8 | uint16(out[17])
		n := setID(id)
		out[16], out[17] = byte(n>>8), byte(n)
		return out
	}
	return conv(t9, func(id uint16) uint16 { return 2 }), conv(d9, func(id uint16) uint16 { return id })
}

func benchDecode(b *testing.B, gen func() (tmpl, data []byte)) {
	tmpl, data := gen()
	d := NewDecoder()
	if _, err := d.Decode(nil, exp, tmpl, nowMs); err != nil {
		b.Fatal(err)
	}
	var flows []Flow
	var r flowlog.Record
	id := Identity{}
	var n int
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	// The machine is shared: flows per CPU-second of the process (the
	// decoder's thread and the GC's, which GoFlow2's allocations keep
	// busy) is the per-core figure, flows/s the wall-clock one.
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		flows, err = d.Decode(flows[:0], exp, data, nowMs)
		if err != nil || len(flows) != 30 {
			b.Fatalf("%d flows, %v", len(flows), err)
		}
		for j := range flows {
			id.Record(&r, &flows[j])
		}
		n += len(flows)
	}
	if c := processCPU() - c0; c > 0 {
		b.ReportMetric(float64(n)/c.Seconds(), "flows/cpu-s")
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

// processCPU is the CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeV9 and BenchmarkDecodeIPFIX measure flows decoded and
// mapped to records per second on one core (target ≥ 500,000).
func BenchmarkDecodeV9(b *testing.B)    { benchDecode(b, benchV9) }
func BenchmarkDecodeIPFIX(b *testing.B) { benchDecode(b, benchIPFIX) }
