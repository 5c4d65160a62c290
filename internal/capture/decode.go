// Package capture turns packets into VPC flow log records: packet sources
// (pcap/pcapng files, AF_PACKET TPACKET_V3 rings, NFLOG for firewall
// drops), header decoding, and the flow table that aggregates packets per
// interface, 5-tuple and direction over AWS's aggregation windows.
//
// Where AWS is silent or unverifiable, the choices are:
//   - bytes are the IP packet length from the IP header (IPv6: 40 + payload
//     length), never the captured length, so a small snaplen changes nothing;
//   - start/end are the seconds of the first and last packet (AWS's
//     documented meaning); TableConfig.WindowBounds writes the window
//     bounds instead, as AWS's examples show;
//   - windows are aligned to multiples of the interval in unix time;
//   - ICMP and ICMPv6 records have ports 0, as AWS's examples do; so do
//     protocols without ports and later IP fragments (their 5-tuple has no
//     ports to read);
//   - DHCP and the link-local AWS service addresses (169.254.169.254,
//     .253, .123) are never recorded, as in AWS;
//   - direction comes from the capture (AF_PACKET, Linux cooked pcap), else
//     from the interface's MAC, else from its addresses; for a pcap file
//     without --local the capturing host is inferred (most frequent MAC);
//   - the local side of IPv4 records shows the interface's primary IPv4,
//     the real address staying in pkt-srcaddr/pkt-dstaddr;
//   - a full table emits its oldest flow early (counted as Evicted), so a
//     5-tuple may have two records in one window, as with AWS's variable
//     windows;
//   - traffic-path is 1 for egress to an on-link prefix and "-" otherwise
//     (the host cannot tell an internet gateway from a peering);
//   - packets dropped by nftables rules with "log group N" (read with
//     --nflog-group N) are REJECT, everything else ACCEPT: the one-line
//     firewall change is adding "log group N" before "drop", e.g.
//     nft add rule inet filter input tcp dport 22 log group 7 drop
package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/google/gopacket/layers"
)

// Decoding errors callers count separately.
var (
	ErrTruncated = errors.New("truncated packet")
	ErrMalformed = errors.New("malformed packet")
	// ErrNotIP is a well-formed frame that carries no IP packet (ARP, LLDP…);
	// flow logs only describe IP traffic.
	ErrNotIP = errors.New("not an IP packet")
	// ErrLinkType is a capture link type the decoder does not know.
	ErrLinkType = errors.New("unsupported link type")
)

// PktDir is what the capture layer says about a packet's direction, when
// it knows (Linux cooked captures and AF_PACKET do).
type PktDir uint8

const (
	DirUnknown  PktDir = iota
	DirIncoming        // addressed to this host (or broadcast/multicast)
	DirOutgoing        // sent by this host
)

// Packet is the part of a packet the flow table needs.
type Packet struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // 0 for protocols without ports (ICMP, ESP…) and non-first fragments
	Proto            uint8  // IANA protocol of the upper layer (after IPv6 extension headers)
	TCPFlags         uint8  // raw TCP flags byte (FIN=1 … CWR=128)
	Length           uint32 // IP packet length from the IP header, what AWS counts as bytes
	SrcMAC, DstMAC   [6]byte
	HasMAC           bool
	Dir              PktDir
}

// Ethernet types the decoder follows.
const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	etherVLAN   = 0x8100
	etherQinQ   = 0x88a8
	etherQinQv1 = 0x9100
)

// Decode fills p from one captured frame of the given link type. It is the
// hot path of capture, written by hand because it is several times faster
// than gopacket's DecodingLayerParser (see BenchmarkDecode*); the
// gopacket-based DecodeGopacket is the reference it is tested against.
func Decode(link layers.LinkType, data []byte, p *Packet) error {
	p.HasMAC = false
	p.Dir = DirUnknown
	switch link {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return ErrTruncated
		}
		copy(p.DstMAC[:], data[0:6])
		copy(p.SrcMAC[:], data[6:12])
		p.HasMAC = true
		et := binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for et == etherVLAN || et == etherQinQ || et == etherQinQv1 {
			if len(data) < 4 {
				return ErrTruncated
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
		return decodeEtherType(et, data, p)
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return ErrTruncated
		}
		p.Dir = sllDir(binary.BigEndian.Uint16(data[0:2]))
		return decodeEtherType(binary.BigEndian.Uint16(data[14:16]), data[16:], p)
	case layers.LinkTypeRaw, linkTypeRawAlt, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return decodeIP(data, p)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return ErrTruncated
		}
		return decodeIP(data[4:], p)
	}
	return ErrLinkType
}

// linkTypeRawAlt is DLT_RAW as some BSDs number it, seen in old files.
// (Link types above 255, such as Linux SLL2, do not fit gopacket's
// uint8 LinkType and are not supported.)
const linkTypeRawAlt layers.LinkType = 14

func sllDir(pkttype uint16) PktDir {
	switch pkttype {
	case 0, 1, 2: // to us, broadcast, multicast
		return DirIncoming
	case 4: // outgoing
		return DirOutgoing
	}
	return DirUnknown
}

func decodeEtherType(et uint16, data []byte, p *Packet) error {
	switch et {
	case etherIPv4, etherIPv6:
		return decodeIP(data, p)
	}
	return ErrNotIP
}

func decodeIP(data []byte, p *Packet) error {
	if len(data) < 1 {
		return ErrTruncated
	}
	switch data[0] >> 4 {
	case 4:
		return decodeIPv4(data, p)
	case 6:
		return decodeIPv6(data, p)
	}
	return ErrMalformed
}

func decodeIPv4(data []byte, p *Packet) error {
	if len(data) < 20 {
		return ErrTruncated
	}
	ihl := int(data[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(data[2:4]))
	if ihl < 20 || total < ihl {
		return ErrMalformed
	}
	if len(data) < ihl {
		return ErrTruncated
	}
	p.Length = uint32(total)
	p.Proto = data[9]
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	p.SrcPort, p.DstPort, p.TCPFlags = 0, 0, 0
	if binary.BigEndian.Uint16(data[6:8])&0x1fff != 0 {
		return nil // a later fragment: no transport header
	}
	end := total
	if end > len(data) {
		end = len(data) // snaplen cut the payload; headers are what matter
	}
	return decodeL4(data[ihl:end], p)
}

func decodeIPv6(data []byte, p *Packet) error {
	if len(data) < 40 {
		return ErrTruncated
	}
	plen := int(binary.BigEndian.Uint16(data[4:6]))
	if plen == 0 {
		// Jumbogram (or a broken header): fall back to what was captured.
		plen = len(data) - 40
	}
	p.Length = uint32(40 + plen)
	p.Src = netip.AddrFrom16([16]byte(data[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	p.SrcPort, p.DstPort, p.TCPFlags = 0, 0, 0
	next := data[6]
	rest := data[40:]
	if 40+plen < len(data) {
		rest = data[40 : 40+plen]
	}
	for {
		switch next {
		case 0, 43, 60, 135, 139, 140, 253, 254: // hop-by-hop, routing, dest opts, mobility, HIP, shim6, experiments
			if len(rest) < 8 {
				return ErrTruncated
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		case 44: // fragment
			if len(rest) < 8 {
				return ErrTruncated
			}
			off := binary.BigEndian.Uint16(rest[2:4]) &^ 7
			next, rest = rest[0], rest[8:]
			if off != 0 {
				p.Proto = next
				return nil
			}
		case 51: // AH
			if len(rest) < 8 {
				return ErrTruncated
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				return ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		default:
			p.Proto = next
			return decodeL4(rest, p)
		}
	}
}

func decodeL4(l4 []byte, p *Packet) error {
	switch p.Proto {
	case 6:
		if len(l4) < 14 {
			return ErrTruncated
		}
		if l4[12]>>4 < 5 {
			return ErrMalformed
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
		p.TCPFlags = l4[13]
	case 17, 136: // UDP, UDP-Lite
		if len(l4) < 4 {
			return ErrTruncated
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
	case 132: // SCTP has ports in the same place
		if len(l4) < 4 {
			return ErrTruncated
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
	case 1, 58:
		// AWS writes ports 0 for ICMP and ICMPv6 records.
		if len(l4) < 4 {
			return ErrTruncated
		}
	}
	return nil
}
