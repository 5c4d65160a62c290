package collector

import (
	"encoding/binary"
	"net/netip"
)

// Datagrams are crafted field by field here, following RFC 3954 (v9),
// RFC 7011 (IPFIX), Cisco's v5 layout and sFlow v5, so each golden test
// states exactly what an exporter sent.

type wr struct{ b []byte }

func (w *wr) u8(v uint8) *wr   { w.b = append(w.b, v); return w }
func (w *wr) u16(v uint16) *wr { w.b = binary.BigEndian.AppendUint16(w.b, v); return w }
func (w *wr) u32(v uint32) *wr { w.b = binary.BigEndian.AppendUint32(w.b, v); return w }
func (w *wr) u64(v uint64) *wr { w.b = binary.BigEndian.AppendUint64(w.b, v); return w }
func (w *wr) ip(s string) *wr  { w.b = append(w.b, netip.MustParseAddr(s).AsSlice()...); return w }
func (w *wr) raw(b []byte) *wr { w.b = append(w.b, b...); return w }

// Times of the fixtures: the exporter booted at boot (unix ms) and sent
// at unixSec.
const (
	fixUnixSec = 1700000100
	fixUptime  = 3_600_000 // ms
)

// v5Datagram: two flows, sampling interval 10 (mode bits 01).
func v5Datagram() []byte {
	w := &wr{}
	w.u16(5).u16(2).u32(fixUptime).u32(fixUnixSec).u32(0).u32(7).u8(0).u8(0).u16(0x4000 | 10)
	// srcaddr dstaddr nexthop input output dPkts dOctets first last sport dport pad flags proto tos srcas dstas smask dmask pad
	w.ip("10.0.1.5").ip("203.0.113.7").ip("0.0.0.0").u16(3).u16(4).u32(12).u32(3400).u32(fixUptime - 50_000).u32(fixUptime - 10_000)
	w.u16(44321).u16(443).u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(0).u16(0)
	w.ip("203.0.113.7").ip("10.0.1.5").ip("0.0.0.0").u16(4).u16(3).u32(1).u32(84).u32(fixUptime - 5_000).u32(fixUptime - 5_000)
	w.u16(0).u16(0).u8(0).u8(0).u8(1).u8(0).u16(0).u16(0).u8(0).u8(24).u16(0)
	return w.b
}

// v9 template 256: IPv4 5-tuple, counters, interfaces, first/last
// switched, flags, direction.
var v9Fields = [][2]uint16{
	{ieSrcIPv4, 4}, {ieDstIPv4, 4}, {ieSrcPort, 2}, {ieDstPort, 2}, {ieProtocol, 1}, {ieTCPFlags, 1},
	{iePacketDelta, 4}, {ieOctetDelta, 4}, {ieInputIf, 2}, {ieOutputIf, 2},
	{ieFirstSwitched, 4}, {ieLastSwitched, 4}, {ieFlowDirection, 1},
}

func v9Header(w *wr, count uint16, seq uint32) {
	w.u16(9).u16(count).u32(fixUptime).u32(fixUnixSec).u32(seq).u32(42)
}

func v9Template() []byte {
	w := &wr{}
	v9Header(w, 1, 1)
	w.u16(0).u16(uint16(4 + 4 + 4*len(v9Fields))).u16(256).u16(uint16(len(v9Fields)))
	for _, f := range v9Fields {
		w.u16(f[0]).u16(f[1])
	}
	return w.b
}

type v9Rec struct {
	src, dst         string
	sport, dport     uint16
	proto, flags     uint8
	pkts, bytes      uint32
	in, out          uint16
	firstAgo, lastAg uint32 // ms before the export
	egress           bool
}

func v9Data(seq uint32, recs ...v9Rec) []byte {
	body := &wr{}
	for _, r := range recs {
		dir := uint8(0)
		if r.egress {
			dir = 1
		}
		body.ip(r.src).ip(r.dst).u16(r.sport).u16(r.dport).u8(r.proto).u8(r.flags).u32(r.pkts).u32(r.bytes).
			u16(r.in).u16(r.out).u32(fixUptime - r.firstAgo).u32(fixUptime - r.lastAg).u8(dir)
	}
	for len(body.b)%4 != 0 {
		body.u8(0) // padding to 32 bits, as RFC 3954 allows
	}
	w := &wr{}
	v9Header(w, uint16(len(recs)), seq)
	w.u16(256).u16(uint16(4 + len(body.b))).raw(body.b)
	return w.b
}

// IPFIX: an options template (scope observationDomainId, options
// samplingPacketInterval and samplingPacketSpace → 1 in 100), its data,
// a template with IPv6 addresses and absolute milliseconds, and data.
func ipfixDatagram() []byte {
	sets := &wr{}
	// Options template set (id 3): template 300, 3 fields, 1 scope field.
	sets.u16(3).u16(4 + 6 + 3*4).u16(300).u16(3).u16(1)
	sets.u16(149).u16(4).u16(ieSamplingPktIntv).u16(4).u16(ieSamplingPktSpace).u16(4)
	// Template set (id 2): template 400.
	tf := [][2]uint16{{ieSrcIPv6, 16}, {ieDstIPv6, 16}, {ieSrcPort, 2}, {ieDstPort, 2}, {ieProtocol, 1},
		{ieTCPFlags, 2}, {iePacketDelta, 8}, {ieOctetDelta, 8}, {ieInputIf, 4}, {ieStartMs, 8}, {ieEndMs, 8}}
	sets.u16(2).u16(uint16(4 + 4 + 4*len(tf))).u16(400).u16(uint16(len(tf)))
	for _, f := range tf {
		sets.u16(f[0]).u16(f[1])
	}
	// Options data (set 300): domain 7, 1 packet in 100.
	sets.u16(300).u16(4 + 12).u32(7).u32(1).u32(99)
	// Data (set 400): one IPv6 TCP flow.
	d := &wr{}
	d.ip("2001:db8::10").ip("2001:db8:1::20").u16(51000).u16(22).u8(6).u16(0x0012).u64(30).u64(4500).u32(9).
		u64(fixUnixSec*1000 - 20_000).u64(fixUnixSec*1000 - 1_000)
	sets.u16(400).u16(uint16(4 + len(d.b))).raw(d.b)
	w := &wr{}
	w.u16(10).u16(uint16(16 + len(sets.b))).u32(fixUnixSec).u32(1).u32(7).raw(sets.b)
	return w.b
}

// sflowDatagram: one flow sample (rate 512, input ifIndex 5) holding a
// raw Ethernet/IPv4/UDP header of a 1000-byte IP packet.
func sflowDatagram() []byte {
	hdr := &wr{}
	hdr.raw([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}).u16(0x0800)
	hdr.u8(0x45).u8(0).u16(1000).u16(1).u16(0).u8(64).u8(17).u16(0).ip("192.0.2.1").ip("198.51.100.2")
	hdr.u16(5353).u16(53).u16(980).u16(0)
	for len(hdr.b)%4 != 0 {
		hdr.u8(0)
	}
	rec := &wr{}
	rec.u32(1).u32(1014 + 4).u32(4).u32(uint32(len(hdr.b))).raw(hdr.b) // protocol ethernet, frame length, stripped, header length
	sample := &wr{}
	sample.u32(11).u32(5).u32(512).u32(512 * 11).u32(0).u32(5).u32(6).u32(1) // seq, source id, rate, pool, drops, input, output, records
	sample.u32(1).u32(uint32(len(rec.b))).raw(rec.b)                         // flow record: raw packet header
	w := &wr{}
	w.u32(5).u32(1).ip("192.0.2.254").u32(0).u32(3).u32(123456).u32(1)
	w.u32(1).u32(uint32(len(sample.b))).raw(sample.b) // flow sample
	return w.b
}
