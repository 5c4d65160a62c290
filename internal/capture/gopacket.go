package capture

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// RefDecoder decodes with gopacket's DecodingLayerParser. It is the
// reference the hand-written Decode is tested and benchmarked against, not
// the production path.
type RefDecoder struct {
	parser  *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	skip    layers.IPv6ExtensionSkipper
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	payload gopacket.Payload
	decoded []gopacket.LayerType
}

// NewRefDecoder returns a decoder for Ethernet frames.
func NewRefDecoder() *RefDecoder {
	d := &RefDecoder{}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.skip, &d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.payload)
	d.parser.IgnoreUnsupported = true
	d.decoded = make([]gopacket.LayerType, 0, 10)
	return d
}

// Decode fills p from an Ethernet frame; ok is false when it holds no IP
// packet or gopacket could not decode it.
func (d *RefDecoder) Decode(data []byte, p *Packet) (ok bool) {
	err := d.parser.DecodeLayers(data, &d.decoded)
	*p = Packet{}
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeEthernet:
			copy(p.SrcMAC[:], d.eth.SrcMAC)
			copy(p.DstMAC[:], d.eth.DstMAC)
			p.HasMAC = true
		case layers.LayerTypeIPv4:
			p.Src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			p.Dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
			p.Proto = uint8(d.ip4.Protocol)
			p.Length = uint32(d.ip4.Length)
			ok = true
		case layers.LayerTypeIPv6:
			p.Src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			p.Proto = uint8(d.ip6.NextHeader)
			p.Length = 40 + uint32(d.ip6.Length)
			ok = true
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Routing:
			p.Proto = uint8(d.skip.NextHeader)
		case layers.LayerTypeTCP:
			p.Proto = 6
			p.SrcPort, p.DstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.TCPFlags = d.tcp.Contents[13]
		case layers.LayerTypeUDP:
			p.Proto = 17
			p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		}
	}
	if err != nil && !ok {
		return false
	}
	return ok
}
