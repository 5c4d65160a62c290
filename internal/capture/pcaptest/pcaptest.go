// Package pcaptest crafts packets with gopacket's layers and writes them as
// pcap files with pcapgo: golden-test inputs for capture, and large
// synthetic captures for its benchmarks.
package pcaptest

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Host is one end of a conversation.
type Host struct {
	MAC  net.HardwareAddr
	Addr netip.Addr
}

// Spec describes one crafted packet.
type Spec struct {
	Src, Dst   Host
	Proto      layers.IPProtocol // TCP, UDP, ICMPv4/ICMPv6 or any other number
	SrcPort    uint16
	DstPort    uint16
	Flags      uint8 // TCP flags byte: FIN=1 SYN=2 RST=4 PSH=8 ACK=16
	Payload    int   // bytes of transport payload
	VLAN       uint16
	HopByHop   bool // IPv6 only: add a hop-by-hop options header
	FragOffset uint16
}

// Frame serialises s into an Ethernet frame.
func Frame(s Spec) []byte {
	eth := &layers.Ethernet{SrcMAC: s.Src.MAC, DstMAC: s.Dst.MAC}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	ipType := layers.EthernetTypeIPv4
	if s.Src.Addr.Is6() {
		ipType = layers.EthernetTypeIPv6
	}
	if s.VLAN != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: s.VLAN, Type: ipType})
	} else {
		eth.EthernetType = ipType
	}
	var netLayer gopacket.NetworkLayer
	if s.Src.Addr.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: s.Proto,
			SrcIP: s.Src.Addr.AsSlice(), DstIP: s.Dst.Addr.AsSlice(), FragOffset: s.FragOffset}
		ls = append(ls, ip)
		netLayer = ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: s.Proto,
			SrcIP: s.Src.Addr.AsSlice(), DstIP: s.Dst.Addr.AsSlice()}
		if s.HopByHop {
			ip.NextHeader = layers.IPProtocolIPv6HopByHop
			ls = append(ls, ip, &hopByHop{next: s.Proto})
		} else {
			ls = append(ls, ip)
		}
		netLayer = ip
	}
	payload := gopacket.Payload(make([]byte, s.Payload))
	switch {
	case s.FragOffset != 0:
		ls = append(ls, payload)
	case s.Proto == layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.SrcPort), DstPort: layers.TCPPort(s.DstPort),
			FIN: s.Flags&1 != 0, SYN: s.Flags&2 != 0, RST: s.Flags&4 != 0, PSH: s.Flags&8 != 0,
			ACK: s.Flags&16 != 0, URG: s.Flags&32 != 0, ECE: s.Flags&64 != 0, CWR: s.Flags&128 != 0,
			Window: 65535, Seq: 1000}
		tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp, payload)
	case s.Proto == layers.IPProtocolUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(s.SrcPort), DstPort: layers.UDPPort(s.DstPort)}
		udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp, payload)
	case s.Proto == layers.IPProtocolICMPv4:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, payload)
	case s.Proto == layers.IPProtocolICMPv6:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		icmp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, icmp, payload)
	default:
		ls = append(ls, payload)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic("pcaptest: " + err.Error())
	}
	return append([]byte(nil), buf.Bytes()...)
}

// hopByHop is an 8-byte IPv6 hop-by-hop header with PadN padding;
// gopacket's own IPv6HopByHop does not serialise standalone.
type hopByHop struct{ next layers.IPProtocol }

func (h *hopByHop) LayerType() gopacket.LayerType { return layers.LayerTypeIPv6HopByHop }

func (h *hopByHop) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	p, err := b.PrependBytes(8)
	if err != nil {
		return err
	}
	copy(p, []byte{byte(h.next), 0, 1, 4, 0, 0, 0, 0})
	return nil
}

// Writer writes frames to a pcap stream with microsecond timestamps.
type Writer struct {
	w *pcapgo.Writer
}

// NewWriter writes the pcap file header for Ethernet frames.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &Writer{w: pw}, nil
}

// Write adds one frame captured at t.
func (w *Writer) Write(t time.Time, frame []byte) error {
	return w.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(frame), Length: len(frame)}, frame)
}

// WriteTruncated adds a frame of which only the first n bytes were
// captured, as a small snaplen does.
func (w *Writer) WriteTruncated(t time.Time, frame []byte, n int) error {
	return w.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: n, Length: len(frame)}, frame[:n])
}

// SynthConfig shapes a large synthetic capture.
type SynthConfig struct {
	Seed    uint64
	Packets int
	Flows   int       // concurrent 5-tuples; default 10000
	Start   time.Time // default 2026-11-01T00:00:00Z
	PPS     float64   // packets per second of capture time; default 100000
	// Uniform picks flows uniformly for every packet, the worst case for a
	// flow table's caches; by default flow popularity is Zipf-like
	// (P(rank) ∝ 1/rank), as on real links where a few flows carry most
	// packets.
	Uniform bool
	// Snaplen cuts each frame to its first Snaplen bytes (0: whole frames),
	// as flow capture tools do; the IP length still gives the full size.
	Snaplen int
}

// WriteSynth writes cfg.Packets frames of cfg.Flows TCP, UDP and ICMP
// flows between a host (10.0.0.10, MAC 02:00:00:00:00:01) and many peers,
// both directions. Frames are crafted once per flow with Frame and then
// only re-stamped, so ten million packets take seconds.
func WriteSynth(w io.Writer, cfg SynthConfig) error {
	if cfg.Flows == 0 {
		cfg.Flows = 10000
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.PPS == 0 {
		cfg.PPS = 100000
	}
	local := Host{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Addr: netip.MustParseAddr("10.0.0.10")}
	gw := net.HardwareAddr{2, 0, 0, 0, 0, 0xfe}
	s := cfg.Seed*0x9e3779b97f4a7c15 + 1
	next := func() uint64 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	frames := make([][2][]byte, cfg.Flows) // request, response
	for i := range frames {
		x := next()
		peer := Host{MAC: gw, Addr: netip.AddrFrom4([4]byte{byte(11 + x%200), byte(x >> 8), byte(x >> 16), byte(1 + (x>>24)%250)})}
		sp := uint16(32768 + (x>>32)%28000)
		req := Spec{Src: local, Dst: peer, Proto: layers.IPProtocolTCP, SrcPort: sp, DstPort: 443, Flags: 0x18, Payload: int(x>>48) % 600}
		switch x % 10 {
		case 0:
			req.Proto, req.DstPort, req.Payload = layers.IPProtocolUDP, 53, 40
		case 1:
			req.Proto, req.SrcPort, req.DstPort, req.Payload = layers.IPProtocolICMPv4, 0, 0, 56
		}
		resp := req
		resp.Src, resp.Dst, resp.SrcPort, resp.DstPort = req.Dst, req.Src, req.DstPort, req.SrcPort
		resp.Payload = 1200
		frames[i] = [2][]byte{Frame(req), Frame(resp)}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	w = bw
	pw := pcapgo.NewWriterNanos(w)
	snap := uint32(65535)
	if cfg.Snaplen > 0 {
		snap = uint32(cfg.Snaplen)
	}
	if err := pw.WriteFileHeader(snap, layers.LinkTypeEthernet); err != nil {
		return err
	}
	// pcapgo.WritePacket writes header and data separately; do it by hand
	// into one buffer to keep generation fast.
	step := float64(time.Second) / cfg.PPS
	t0 := cfg.Start.UnixNano()
	var hdr [16]byte
	for i := 0; i < cfg.Packets; i++ {
		x := next()
		fi := x % uint64(len(frames))
		if !cfg.Uniform {
			u := float64(x>>11) / (1 << 53)
			fi = uint64(math.Pow(float64(len(frames)), u)) - 1
		}
		f := frames[fi][next()&1]
		ts := t0 + int64(float64(i)*step)
		binary.LittleEndian.PutUint32(hdr[0:], uint32(ts/1e9))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(ts%1e9))
		caplen := len(f)
		if cfg.Snaplen > 0 && caplen > cfg.Snaplen {
			caplen = cfg.Snaplen
		}
		binary.LittleEndian.PutUint32(hdr[8:], uint32(caplen))
		binary.LittleEndian.PutUint32(hdr[12:], uint32(len(f)))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(f[:caplen]); err != nil {
			return err
		}
	}
	return bw.Flush()
}
