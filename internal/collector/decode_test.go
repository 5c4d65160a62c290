package collector

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

var exp = netip.MustParseAddr("192.0.2.254")

const nowMs = fixUnixSec*1000 + 500

func decodeAll(t *testing.T, d *Decoder, dgs ...[]byte) []Flow {
	t.Helper()
	var out []Flow
	for _, dg := range dgs {
		var err error
		if out, err = d.Decode(out, exp, dg, nowMs); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	return out
}

// text renders flows as records in a format with every field the
// collector fills.
const goldenFormat = "${interface-id} ${instance-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${type} ${flow-direction}"

func text(flows []Flow) string {
	f := flowlog.MustParseFormat(goldenFormat)
	var b []byte
	var r flowlog.Record
	for i := range flows {
		Identity{}.Record(&r, &flows[i])
		b = flowlog.AppendText(b, &r, f)
		b = append(b, '\n')
	}
	return string(b)
}

func TestNetFlowV5Golden(t *testing.T) {
	flows := decodeAll(t, NewDecoder(), v5Datagram())
	if len(flows) != 2 {
		t.Fatalf("got %d flows", len(flows))
	}
	if flows[0].SamplingRate != 10 || flows[0].Packets != 120 || flows[0].Bytes != 34000 {
		t.Errorf("sampling not applied: %+v", flows[0])
	}
	eni3, eni4 := InterfaceID(exp, 3), InterfaceID(exp, 4)
	inst := InstanceID(exp)
	want := eni3 + " " + inst + " 10.0.1.5 203.0.113.7 44321 443 6 120 34000 1700000050 1700000090 ACCEPT OK 19 IPv4 ingress\n" +
		eni4 + " " + inst + " 203.0.113.7 10.0.1.5 0 0 1 10 840 1700000095 1700000095 ACCEPT OK 0 IPv4 ingress\n"
	if got := text(flows); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

func TestNetFlowV9TemplateThenData(t *testing.T) {
	d := NewDecoder()
	data := v9Data(2,
		v9Rec{src: "10.0.1.5", dst: "10.0.2.9", sport: 40000, dport: 80, proto: 6, flags: 0x02, pkts: 5, bytes: 400, in: 1, out: 2, firstAgo: 30_000, lastAg: 2_000},
		v9Rec{src: "10.0.2.9", dst: "10.0.1.5", sport: 80, dport: 40000, proto: 6, flags: 0x12, pkts: 4, bytes: 5000, in: 2, out: 1, firstAgo: 29_000, lastAg: 2_000, egress: true})
	// Data before its template is reported (and lost until the exporter
	// repeats the template), never a crash.
	if fl, err := d.Decode(nil, exp, data, nowMs); !errors.Is(err, ErrNoTemplate) || len(fl) != 0 {
		t.Fatalf("data before template: %d flows, err %v", len(fl), err)
	}
	flows := decodeAll(t, d, v9Template(), data)
	want := InterfaceID(exp, 1) + " " + InstanceID(exp) + " 10.0.1.5 10.0.2.9 40000 80 6 5 400 1700000070 1700000098 ACCEPT OK 2 IPv4 ingress\n" +
		InterfaceID(exp, 1) + " " + InstanceID(exp) + " 10.0.2.9 10.0.1.5 80 40000 6 4 5000 1700000071 1700000098 ACCEPT OK 18 IPv4 egress\n"
	if got := text(flows); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
	// Templates are per exporter: another exporter's data is not decoded
	// with this one's template.
	if fl, err := d.Decode(nil, netip.MustParseAddr("192.0.2.253"), data, nowMs); !errors.Is(err, ErrNoTemplate) || len(fl) != 0 {
		t.Errorf("other exporter: %d flows, err %v", len(fl), err)
	}
}

func TestIPFIXOptionsSamplingIPv6(t *testing.T) {
	flows := decodeAll(t, NewDecoder(), ipfixDatagram())
	if len(flows) != 1 {
		t.Fatalf("got %d flows", len(flows))
	}
	if flows[0].SamplingRate != 100 {
		t.Errorf("sampling rate %d, want 100 (1 of every 1+99 from options data)", flows[0].SamplingRate)
	}
	want := InterfaceID(exp, 9) + " " + InstanceID(exp) + " 2001:db8::10 2001:db8:1::20 51000 22 6 3000 450000 1700000080 1700000099 ACCEPT OK 18 IPv6 ingress\n"
	if got := text(flows); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

func TestSFlowRawHeader(t *testing.T) {
	flows := decodeAll(t, NewDecoder(), sflowDatagram())
	if len(flows) != 1 {
		t.Fatalf("got %d flows", len(flows))
	}
	want := InterfaceID(exp, 5) + " " + InstanceID(exp) + " 192.0.2.1 198.51.100.2 5353 53 17 512 512000 1700000100 1700000100 ACCEPT OK 0 IPv4 ingress\n"
	if got := text(flows); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

func TestInterfaceIDStable(t *testing.T) {
	a := InterfaceID(netip.MustParseAddr("10.9.9.9"), 7)
	if a != InterfaceID(netip.MustParseAddr("::ffff:10.9.9.9"), 7) {
		t.Error("v4-mapped exporter address gives another id")
	}
	if a == InterfaceID(netip.MustParseAddr("10.9.9.9"), 8) || a == InterfaceID(netip.MustParseAddr("10.9.9.8"), 7) {
		t.Error("ids collide across ifIndex or exporter")
	}
	if len(a) != 21 || !strings.HasPrefix(a, "eni-") {
		t.Errorf("id %q is not eni- + 17 hex", a)
	}
}

func TestAggregatorWindows(t *testing.T) {
	var got []flowlog.Record
	a := NewAggregator(AggregatorConfig{Interval: 60, Emit: func(r *flowlog.Record) { got = append(got, *r) }})
	base := Flow{Exporter: exp, InIf: 1, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2, Protocol: 17}
	f1 := base
	f1.Packets, f1.Bytes, f1.Start, f1.End = 2, 200, 1_700_000_010_000, 1_700_000_030_000 // window [1699999980, 1700000040)
	f2 := base
	f2.Packets, f2.Bytes, f2.Start, f2.End = 3, 300, 1_700_000_020_000, 1_700_000_035_000
	f3 := base
	f3.Packets, f3.Bytes, f3.Start, f3.End = 1, 100, 1_700_000_030_000, 1_700_000_050_000 // next window; start clamped
	for _, f := range []*Flow{&f1, &f2, &f3} {
		a.Add(f)
	}
	a.Advance(1_700_000_040)
	if len(got) != 1 || got[0].Packets != 5 || got[0].Bytes != 500 || got[0].Start != 1_700_000_010 || got[0].End != 1_700_000_035 {
		t.Fatalf("first window: %+v", got)
	}
	a.Flush()
	if len(got) != 2 || got[1].Packets != 1 || got[1].Start != 1_700_000_040 || got[1].End != 1_700_000_050 {
		t.Fatalf("second window: %+v", got[1:])
	}
	if a.Pending() != 0 {
		t.Error("records left after Flush")
	}
}

func TestGarbage(t *testing.T) {
	d := NewDecoder()
	for _, b := range [][]byte{nil, {0, 7, 0, 0}, {0, 5, 0, 1}, {0, 9, 0, 1, 2}, {0, 10, 0, 20}, {0, 0, 0, 5, 0, 0, 0, 9}} {
		if _, err := d.Decode(nil, exp, b, nowMs); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
}

// TestSFlowForgedCount: an expanded flow sample claiming 2^31 records
// is rejected before GoFlow2 would allocate them.
func TestSFlowForgedCount(t *testing.T) {
	w := &wr{}
	w.u32(5).u32(1).ip("192.0.2.254").u32(0).u32(3).u32(123456).u32(1)
	body := &wr{}
	body.u32(1).u32(0).u32(5).u32(512).u32(0).u32(0).u32(0).u32(5).u32(0).u32(6).u32(1 << 31)
	w.u32(3).u32(uint32(len(body.b))).raw(body.b)
	if _, err := NewDecoder().Decode(nil, exp, w.b, nowMs); !errors.Is(err, ErrImplausible) {
		t.Fatalf("err %v, want ErrImplausible", err)
	}
}
