// Package collector turns flows exported by routers and switches (NetFlow
// v5, NetFlow v9, IPFIX and sFlow v5) into VPC flow log records.
//
// Decoding is GoFlow2's (github.com/netsampler/goflow2/v2 decoders): pure
// functions from datagram bytes to typed packets, with templates kept per
// exporter. This package maps those packets to Flow values and Flows to
// flowlog.Records, and aggregates them into windows like capture does.
//
// Decisions where AWS has nothing to say:
//   - An exporter is an instance and each of its ifIndexes an interface:
//     interface-id is eni- + 17 hex of a hash of (exporter address, ifIndex),
//     stable across restarts and collectors; instance-id likewise from the
//     exporter address.
//   - A flow is recorded once, on the interface it was observed on: the
//     input interface for ingress-monitored flows (NetFlow's default and
//     flowDirection 0), the output interface when flowDirection says egress.
//     Recording it on both interfaces would double every total.
//   - The sampling rate (from the record, the packet header, or options
//     data of the exporter) multiplies packets and bytes. The flow log
//     format has no field for it, so the rate applied is kept in
//     Flow.SamplingRate and counted per exporter (Stats), and `flowwatch
//     collect --stats` prints it.
//   - A flow falls into the aggregation window of its last packet; its
//     start is clamped to that window's start.
package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/gopacket/layers"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"

	"github.com/flowwatch/flowwatch/internal/capture"
)

// Flow is one exported flow, counters already scaled by the sampling rate.
type Flow struct {
	Exporter         netip.Addr
	Proto            string // "netflow5", "netflow9", "ipfix", "sflow5"
	InIf, OutIf      uint32
	Egress           bool // observed on OutIf leaving the device
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Protocol         uint8
	TCPFlags         uint8
	Packets, Bytes   uint64
	Start, End       int64 // unix milliseconds
	SamplingRate     uint32
}

// Interface is the ifIndex the flow was observed on.
func (f *Flow) Interface() uint32 {
	if f.Egress {
		return f.OutIf
	}
	return f.InIf
}

// ErrUnknownVersion is returned for datagrams of no supported protocol.
var ErrUnknownVersion = errors.New("collector: unknown datagram version")

// ErrNoTemplate wraps data sets that arrived before their template; the
// exporter sends templates periodically, so the loss is temporary.
var ErrNoTemplate = errors.New("collector: data before its template")

// Decoder decodes datagrams of many exporters. It keeps per exporter the
// v9/IPFIX templates and the sampling rate announced in options data. It
// is safe for concurrent use by datagrams of different exporters.
type Decoder struct {
	mu        sync.Mutex
	exporters map[netip.Addr]*exporter
}

type exporter struct {
	mu        sync.Mutex
	templates netflow.NetFlowTemplateSystem
	sampling  map[uint32]uint32 // observation domain / source id → rate
	// sysInit is systemInitTimeMilliseconds announced in options data per
	// observation domain: the anchor of IPFIX uptime-relative times.
	sysInit map[uint32]int64
}

// NewDecoder returns a Decoder with no templates.
func NewDecoder() *Decoder { return &Decoder{exporters: map[netip.Addr]*exporter{}} }

func (d *Decoder) exporter(a netip.Addr) *exporter {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.exporters[a]
	if e == nil {
		e = &exporter{templates: netflow.CreateTemplateSystem(), sampling: map[uint32]uint32{}, sysInit: map[uint32]int64{}}
		d.exporters[a] = e
	}
	return e
}

// Decode decodes one datagram from exporter, received at nowMs (unix
// milliseconds: the time of sFlow samples, which carry none), and appends
// its flows to dst. Flows decoded before an error are returned with it.
func (d *Decoder) Decode(dst []Flow, exporter netip.Addr, data []byte, nowMs int64) ([]Flow, error) {
	exporter = exporter.Unmap()
	if len(data) < 4 {
		return dst, fmt.Errorf("collector: datagram of %d bytes: %w", len(data), ErrUnknownVersion)
	}
	switch v := binary.BigEndian.Uint16(data); {
	case v == 5:
		return decodeV5(dst, exporter, data)
	case v == 9 || v == 10:
		e := d.exporter(exporter)
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.decodeTemplated(dst, exporter, data)
	case v == 0 && binary.BigEndian.Uint32(data) == 5:
		return decodeSFlow(dst, exporter, data, nowMs)
	default:
		return dst, fmt.Errorf("collector: version %d: %w", v, ErrUnknownVersion)
	}
}

func decodeV5(dst []Flow, exporter netip.Addr, data []byte) ([]Flow, error) {
	// GoFlow2 allocates count records (up to 3 MB) before reading them:
	// a count the datagram cannot hold is refused first.
	if len(data) < 24 || int(binary.BigEndian.Uint16(data[2:]))*48 > len(data)-24 {
		return dst, fmt.Errorf("collector: netflow v5 from %s: %w", exporter, ErrImplausible)
	}
	var p netflowlegacy.PacketNetFlowV5
	if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(data), &p); err != nil {
		return dst, fmt.Errorf("collector: netflow v5: %w", err)
	}
	// The low 14 bits are the interval; the top two the sampling mode.
	rate := uint32(p.SamplingInterval & 0x3fff)
	if rate == 0 {
		rate = 1
	}
	// Times are milliseconds of the exporter's uptime; the header pairs
	// that uptime with wall-clock time.
	boot := int64(p.UnixSecs)*1000 + int64(p.UnixNSecs)/1e6 - int64(p.SysUptime)
	for i := range p.Records {
		r := &p.Records[i]
		dst = append(dst, Flow{
			Exporter: exporter, Proto: "netflow5",
			InIf: uint32(r.Input), OutIf: uint32(r.Output),
			Src: addr4(uint32(r.SrcAddr)), Dst: addr4(uint32(r.DstAddr)),
			SrcPort: r.SrcPort, DstPort: r.DstPort, Protocol: r.Proto, TCPFlags: r.TCPFlags,
			Packets: uint64(r.DPkts) * uint64(rate), Bytes: uint64(r.DOctets) * uint64(rate),
			Start: boot + int64(r.First), End: boot + int64(r.Last), SamplingRate: rate,
		})
	}
	return dst, nil
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// decodeTemplated decodes NetFlow v9 and IPFIX; e.mu is held.
func (e *exporter) decodeTemplated(dst []Flow, exporter netip.Addr, data []byte) ([]Flow, error) {
	var v9 netflow.NFv9Packet
	var ipfix netflow.IPFIXPacket
	err := netflow.DecodeMessageVersion(bytes.NewBuffer(data), e.templates, &v9, &ipfix)
	var sets []any
	var h header
	if binary.BigEndian.Uint16(data) == 9 {
		sets = v9.FlowSets
		h = header{proto: "netflow9", domain: v9.SourceId, unixMs: int64(v9.UnixSeconds) * 1000, uptime: int64(v9.SystemUptime)}
	} else {
		sets = ipfix.FlowSets
		h = header{proto: "ipfix", domain: ipfix.ObservationDomainId, unixMs: int64(ipfix.ExportTime) * 1000, uptime: -1}
	}
	// Options data first: a datagram may announce the sampling rate
	// together with the flows it applies to.
	for _, s := range sets {
		if o, ok := s.(netflow.OptionsDataFlowSet); ok {
			for _, r := range o.Records {
				if rate := samplingOf(r.OptionsValues); rate > 0 {
					e.sampling[h.domain] = rate
				}
				for _, v := range r.OptionsValues {
					if b, ok := v.Value.([]byte); ok && !v.PenProvided && v.Type == ieSysInitMs {
						e.sysInit[h.domain] = int64(be(b))
					}
				}
			}
		}
	}
	for _, s := range sets {
		if ds, ok := s.(netflow.DataFlowSet); ok {
			for _, r := range ds.Records {
				if f, ok := e.mapRecord(exporter, &h, r.Values); ok {
					dst = append(dst, f)
				}
			}
		}
	}
	if err != nil {
		if errors.Is(err, netflow.ErrorTemplateNotFound) {
			return dst, fmt.Errorf("collector: %s from %s: %w (%v)", h.proto, exporter, ErrNoTemplate, err)
		}
		return dst, fmt.Errorf("collector: %s from %s: %w", h.proto, exporter, err)
	}
	return dst, nil
}

type header struct {
	proto  string
	domain uint32
	unixMs int64
	uptime int64 // ms since boot at unixMs (v9); -1 when unknown (IPFIX)
}

// Information elements (IANA IPFIX numbering, which NetFlow v9 shares).
const (
	ieOctetDelta       = 1
	iePacketDelta      = 2
	ieProtocol         = 4
	ieTCPFlags         = 6
	ieSrcPort          = 7
	ieSrcIPv4          = 8
	ieInputIf          = 10
	ieDstPort          = 11
	ieDstIPv4          = 12
	ieOutputIf         = 14
	ieLastSwitched     = 21
	ieFirstSwitched    = 22
	ieOctetTotal       = 85
	iePacketTotal      = 86
	ieSrcIPv6          = 27
	ieDstIPv6          = 28
	ieSamplingInterval = 34
	ieSamplerRandom    = 50 // samplerRandomInterval
	ieFlowDirection    = 61
	ieIngressPhysIf    = 252
	ieEgressPhysIf     = 253
	ieStartSec         = 150
	ieEndSec           = 151
	ieStartMs          = 152
	ieEndMs            = 153
	ieStartUs          = 154
	ieEndUs            = 155
	ieStartNs          = 156
	ieEndNs            = 157
	ieStartDeltaUs     = 158
	ieEndDeltaUs       = 159
	ieSysInitMs        = 160
	ieSamplingPktIntv  = 305
	ieSamplingPktSpace = 306
)

func be(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func samplingOf(vals []netflow.DataField) uint32 {
	var interval, space uint64
	for i := range vals {
		v := &vals[i]
		b, _ := v.Value.([]byte)
		if v.PenProvided {
			continue
		}
		switch v.Type {
		case ieSamplingInterval, ieSamplerRandom, ieSamplingPktIntv:
			interval = be(b)
		case ieSamplingPktSpace:
			space = be(b)
		}
	}
	if interval == 0 {
		return 0
	}
	if space > 0 {
		// Systematic count-based sampling: interval packets selected of
		// every interval+space.
		return uint32((interval + space) / interval)
	}
	return uint32(min(interval, 1<<32-1))
}

// ntpMicro converts IPFIX dateTimeMicroseconds/Nanoseconds (NTP format)
// to unix milliseconds.
func ntpMs(v uint64) int64 {
	const ntpToUnix = 2208988800
	sec := int64(v>>32) - ntpToUnix
	frac := int64((v & 0xffffffff) * 1000 >> 32)
	return sec*1000 + frac
}

func (e *exporter) mapRecord(exporter netip.Addr, h *header, vals []netflow.DataField) (Flow, bool) {
	f := Flow{Exporter: exporter, Proto: h.proto}
	var rate uint32
	var first, last, sysInit int64 = -1, -1, -1
	var startAbs, endAbs int64 = -1, -1
	var startDelta, endDelta int64 = -1, -1
	var interval, space uint64
	var haveAddr bool
	for i := range vals {
		v := &vals[i]
		if v.PenProvided {
			continue
		}
		b, _ := v.Value.([]byte)
		switch v.Type {
		case ieOctetDelta, ieOctetTotal:
			if f.Bytes == 0 {
				f.Bytes = be(b)
			}
		case iePacketDelta, iePacketTotal:
			if f.Packets == 0 {
				f.Packets = be(b)
			}
		case ieProtocol:
			f.Protocol = uint8(be(b))
		case ieTCPFlags:
			f.TCPFlags = uint8(be(b)) // IPFIX has 2 bytes; the low byte holds the classic flags
		case ieSrcPort:
			f.SrcPort = uint16(be(b))
		case ieDstPort:
			f.DstPort = uint16(be(b))
		case ieSrcIPv4, ieSrcIPv6:
			if a, ok := netip.AddrFromSlice(b); ok {
				f.Src, haveAddr = a, true
			}
		case ieDstIPv4, ieDstIPv6:
			if a, ok := netip.AddrFromSlice(b); ok {
				f.Dst = a
			}
		case ieInputIf, ieIngressPhysIf:
			if f.InIf == 0 {
				f.InIf = uint32(be(b))
			}
		case ieOutputIf, ieEgressPhysIf:
			if f.OutIf == 0 {
				f.OutIf = uint32(be(b))
			}
		case ieFlowDirection:
			f.Egress = be(b) == 1
		case ieFirstSwitched:
			first = int64(be(b))
		case ieLastSwitched:
			last = int64(be(b))
		case ieSysInitMs:
			sysInit = int64(be(b))
		case ieStartSec:
			startAbs = int64(be(b)) * 1000
		case ieEndSec:
			endAbs = int64(be(b)) * 1000
		case ieStartMs:
			startAbs = int64(be(b))
		case ieEndMs:
			endAbs = int64(be(b))
		case ieStartUs, ieStartNs:
			startAbs = ntpMs(be(b))
		case ieEndUs, ieEndNs:
			endAbs = ntpMs(be(b))
		case ieStartDeltaUs:
			startDelta = int64(be(b))
		case ieEndDeltaUs:
			endDelta = int64(be(b))
		case ieSamplingInterval, ieSamplerRandom, ieSamplingPktIntv:
			interval = be(b)
		case ieSamplingPktSpace:
			space = be(b)
		}
	}
	if sysInit < 0 {
		if v, ok := e.sysInit[h.domain]; ok {
			sysInit = v
		}
	}
	if !haveAddr || !f.Dst.IsValid() {
		return f, false // not a flow record (or one we cannot place)
	}
	if interval > 0 {
		if space > 0 {
			rate = uint32((interval + space) / interval)
		} else {
			rate = uint32(min(interval, 1<<32-1))
		}
	}
	if rate == 0 {
		rate = e.sampling[h.domain]
	}
	if rate == 0 {
		rate = 1
	}
	f.SamplingRate = rate
	f.Packets *= uint64(rate)
	f.Bytes *= uint64(rate)
	// Times: absolute when given; uptime-relative with the header's (v9)
	// or systemInitTimeMilliseconds' (IPFIX) anchor; deltas from the
	// export time; else the export time itself.
	switch {
	case startAbs >= 0 || endAbs >= 0:
		f.Start, f.End = startAbs, endAbs
	case (first >= 0 || last >= 0) && h.uptime >= 0:
		boot := h.unixMs - h.uptime
		f.Start, f.End = boot+first, boot+last
	case (first >= 0 || last >= 0) && sysInit >= 0:
		f.Start, f.End = sysInit+first, sysInit+last
	case startDelta >= 0 || endDelta >= 0:
		f.Start, f.End = h.unixMs-startDelta/1000, h.unixMs-endDelta/1000
	}
	if f.End < 0 {
		f.End = h.unixMs
	}
	if f.Start < 0 || f.Start > f.End {
		f.Start = f.End
	}
	return f, true
}

// decodeSFlow maps flow samples: each sampled packet header stands for
// SamplingRate packets of its length.
func decodeSFlow(dst []Flow, exporter netip.Addr, data []byte, nowMs int64) ([]Flow, error) {
	if err := checkSFlow(data); err != nil {
		return dst, fmt.Errorf("collector: sflow from %s: %w", exporter, err)
	}
	var p sflow.Packet
	if err := sflow.DecodeMessageVersion(bytes.NewBuffer(data), &p); err != nil {
		return dst, fmt.Errorf("collector: sflow from %s: %w", exporter, err)
	}
	// sFlow carries no timestamps; the datagram's arrival stands in.
	var pkt capture.Packet
	for _, s := range p.Samples {
		var rate, in, out uint32
		var recs []sflow.FlowRecord
		switch s := s.(type) {
		case sflow.FlowSample:
			rate, in, out, recs = s.SamplingRate, s.Input&0x3fffffff, s.Output&0x3fffffff, s.Records
		case sflow.ExpandedFlowSample:
			rate, in, out, recs = s.SamplingRate, s.InputIfValue, s.OutputIfValue, s.Records
		default:
			continue
		}
		if rate == 0 {
			rate = 1
		}
		for _, r := range recs {
			var f Flow
			switch d := r.Data.(type) {
			case sflow.SampledHeader:
				link := layers.LinkTypeEthernet
				switch d.Protocol {
				case 1: // ethernet
				case 11, 12: // IPv4, IPv6
					link = layers.LinkTypeRaw
				default:
					continue
				}
				if capture.Decode(link, d.HeaderData, &pkt) != nil {
					continue
				}
				f = Flow{Src: pkt.Src, Dst: pkt.Dst, SrcPort: pkt.SrcPort, DstPort: pkt.DstPort, Protocol: pkt.Proto, TCPFlags: pkt.TCPFlags}
				// FrameLength counts the link header (and FCS); AWS bytes
				// are the IP packet's, which the IP header states.
				f.Bytes = uint64(pkt.Length)
			case sflow.SampledIPv4:
				f = sampledIP(&d.SampledIPBase)
			case sflow.SampledIPv6:
				f = sampledIP(&d.SampledIPBase)
			default:
				continue
			}
			if !f.Src.IsValid() || !f.Dst.IsValid() {
				continue
			}
			f.Exporter, f.Proto, f.InIf, f.OutIf, f.SamplingRate = exporter, "sflow5", in, out, rate
			f.Start, f.End = nowMs, nowMs
			f.Packets = uint64(rate)
			f.Bytes *= uint64(rate)
			dst = append(dst, f)
		}
	}
	return dst, nil
}

func sampledIP(d *sflow.SampledIPBase) Flow {
	src, _ := netip.AddrFromSlice(d.SrcIP)
	dst, _ := netip.AddrFromSlice(d.DstIP)
	return Flow{Src: src.Unmap(), Dst: dst.Unmap(), SrcPort: uint16(d.SrcPort), DstPort: uint16(d.DstPort),
		Protocol: uint8(d.Protocol), TCPFlags: uint8(d.TcpFlags), Bytes: uint64(d.Length)}
}

// ErrImplausible marks a datagram whose counts cannot fit in its length.
var ErrImplausible = errors.New("collector: counts exceed the datagram")

// checkSFlow walks an sFlow v5 datagram's sample headers and rejects
// record counts that cannot fit in their sample: GoFlow2 v2.2.6 allocates
// an expanded flow sample's records from the count before reading them,
// so one forged datagram could make it allocate gigabytes (found by
// FuzzDecode).
func checkSFlow(b []byte) error {
	if len(b) < 8 {
		return ErrImplausible
	}
	off := 8
	switch binary.BigEndian.Uint32(b[4:]) {
	case 1:
		off += 4
	case 2:
		off += 16
	default:
		return nil // GoFlow2 rejects it
	}
	if len(b) < off+16 {
		return ErrImplausible
	}
	n := binary.BigEndian.Uint32(b[off+12:])
	off += 16
	for i := uint32(0); i < n && off+8 <= len(b); i++ {
		format, length := binary.BigEndian.Uint32(b[off:]), int(binary.BigEndian.Uint32(b[off+4:]))
		off += 8
		if length < 0 || length > len(b)-off {
			return ErrImplausible
		}
		body := b[off : off+length]
		countAt := -1
		switch format {
		case 1, 5: // flow sample, drop sample: count after 7 words
			countAt = 28
		case 2: // counter sample
			countAt = 8
		case 3: // expanded flow sample
			countAt = 40
		}
		if countAt >= 0 && len(body) >= countAt+4 && int(binary.BigEndian.Uint32(body[countAt:])) > len(body)/8 {
			return ErrImplausible
		}
		off += length
	}
	return nil
}
