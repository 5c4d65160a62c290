package capture

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/flowwatch/flowwatch/internal/capture/pcaptest"
	"github.com/google/gopacket/layers"
)

var (
	hostA  = pcaptest.Host{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, Addr: netip.MustParseAddr("10.1.0.10")}
	hostB  = pcaptest.Host{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}, Addr: netip.MustParseAddr("10.1.0.20")}
	hostA6 = pcaptest.Host{MAC: hostA.MAC, Addr: netip.MustParseAddr("fd00::a")}
	hostB6 = pcaptest.Host{MAC: hostB.MAC, Addr: netip.MustParseAddr("fd00::b")}
)

type decodeCase struct {
	name string
	spec pcaptest.Spec
	want Packet
}

func decodeCases() []decodeCase {
	mac := func(h pcaptest.Host) (m [6]byte) { copy(m[:], h.MAC); return }
	base := func(src, dst pcaptest.Host, proto uint8, sp, dp uint16, flags uint8, length uint32) Packet {
		return Packet{Src: src.Addr, Dst: dst.Addr, Proto: proto, SrcPort: sp, DstPort: dp, TCPFlags: flags,
			Length: length, SrcMAC: mac(src), DstMAC: mac(dst), HasMAC: true}
	}
	return []decodeCase{
		{"tcp4 syn", pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolTCP, SrcPort: 40000, DstPort: 22, Flags: 2},
			base(hostA, hostB, 6, 40000, 22, 2, 40)},
		{"tcp4 vlan payload", pcaptest.Spec{Src: hostB, Dst: hostA, Proto: layers.IPProtocolTCP, SrcPort: 22, DstPort: 40000, Flags: 0x18, Payload: 100, VLAN: 42},
			base(hostB, hostA, 6, 22, 40000, 0x18, 140)},
		{"udp4", pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolUDP, SrcPort: 5353, DstPort: 53, Payload: 30},
			base(hostA, hostB, 17, 5353, 53, 0, 58)},
		{"icmp4", pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolICMPv4, Payload: 56},
			base(hostA, hostB, 1, 0, 0, 0, 84)},
		{"gre", pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolGRE, Payload: 24},
			base(hostA, hostB, 47, 0, 0, 0, 44)},
		{"tcp6", pcaptest.Spec{Src: hostA6, Dst: hostB6, Proto: layers.IPProtocolTCP, SrcPort: 1, DstPort: 443, Flags: 0x12},
			base(hostA6, hostB6, 6, 1, 443, 0x12, 60)},
		{"tcp6 hop-by-hop", pcaptest.Spec{Src: hostA6, Dst: hostB6, Proto: layers.IPProtocolTCP, SrcPort: 2, DstPort: 80, Flags: 1, HopByHop: true, Payload: 10},
			base(hostA6, hostB6, 6, 2, 80, 1, 78)},
		{"udp6", pcaptest.Spec{Src: hostB6, Dst: hostA6, Proto: layers.IPProtocolUDP, SrcPort: 123, DstPort: 123, Payload: 48},
			base(hostB6, hostA6, 17, 123, 123, 0, 96)},
		{"icmp6", pcaptest.Spec{Src: hostA6, Dst: hostB6, Proto: layers.IPProtocolICMPv6, Payload: 8},
			base(hostA6, hostB6, 58, 0, 0, 0, 52)},
		{"ipv4 later fragment", pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolUDP, FragOffset: 185, Payload: 100},
			base(hostA, hostB, 17, 0, 0, 0, 120)},
	}
}

func TestDecode(t *testing.T) {
	ref := NewRefDecoder()
	for _, c := range decodeCases() {
		frame := pcaptest.Frame(c.spec)
		var p Packet
		if err := Decode(layers.LinkTypeEthernet, frame, &p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, p, c.want)
		}
		// gopacket agrees on every packet it decodes fully.
		if c.spec.FragOffset == 0 && !c.spec.HopByHop {
			var q Packet
			if !ref.Decode(frame, &q) {
				t.Fatalf("%s: gopacket failed", c.name)
			}
			if q != p {
				t.Errorf("%s: gopacket disagrees:\n hand %+v\n  ref %+v", c.name, p, q)
			}
		}
		// Every cut of the frame short of its headers is an error, never a
		// panic; cuts inside the payload still decode.
		for n := 0; n < len(frame); n++ {
			err := Decode(layers.LinkTypeEthernet, frame[:n], &p)
			if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s cut at %d: %v", c.name, n, err)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tcp := pcaptest.Frame(pcaptest.Spec{Src: hostA, Dst: hostB, Proto: layers.IPProtocolTCP, SrcPort: 1, DstPort: 2})
	var p Packet
	check := func(name string, link layers.LinkType, b []byte, want error) {
		t.Helper()
		if err := Decode(link, b, &p); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	check("tcp cut", layers.LinkTypeEthernet, tcp[:14+20+10], ErrTruncated)
	check("eth cut", layers.LinkTypeEthernet, tcp[:10], ErrTruncated)
	bad := append([]byte(nil), tcp...)
	bad[14] = 0x43 // IHL 3
	check("ihl", layers.LinkTypeEthernet, bad, ErrMalformed)
	bad = append([]byte(nil), tcp...)
	bad[14] = 0x75 // version 7
	check("version", layers.LinkTypeEthernet, bad, ErrMalformed)
	bad = append([]byte(nil), tcp...)
	bad[14+20+12] = 0x20 // TCP data offset 2
	check("tcp offset", layers.LinkTypeEthernet, bad, ErrMalformed)
	arp := append([]byte(nil), tcp[:14]...)
	arp[12], arp[13] = 0x08, 0x06
	check("arp", layers.LinkTypeEthernet, append(arp, make([]byte, 28)...), ErrNotIP)
	check("link", layers.LinkType(200), tcp, ErrLinkType)
	// Raw IP and Linux cooked captures.
	check("raw", layers.LinkTypeRaw, tcp[14:], nil)
	if p.Src != hostA.Addr || p.HasMAC {
		t.Errorf("raw decoded as %+v", p)
	}
	sll := make([]byte, 16, 16+len(tcp)-14)
	sll[1] = 4 // outgoing
	sll[14], sll[15] = 0x08, 0x00
	check("sll", layers.LinkTypeLinuxSLL, append(sll, tcp[14:]...), nil)
	if p.Dir != DirOutgoing || p.DstPort != 2 {
		t.Errorf("sll decoded as %+v", p)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases() {
		f.Add(pcaptest.Frame(c.spec))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if err := Decode(layers.LinkTypeEthernet, b, &p); err != nil {
			return
		}
		if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
			t.Fatalf("decoded bad addresses %+v", p)
		}
		if p.Src.Is4() && p.Length < 20 || p.Src.Is6() && p.Length < 40 {
			t.Fatalf("length %d below the IP header", p.Length)
		}
		// The table must take anything Decode accepts.
		tb := NewTable(TableConfig{Interval: 60}, []*Interface{{}})
		tb.Add(0, 1e9, &p)
		tb.Flush()
		if s := tb.Stats(); s.Packets+s.Excluded != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func benchFrames() [][]byte {
	var fs [][]byte
	for i := 0; i < 64; i++ {
		for _, c := range decodeCases() {
			c.spec.SrcPort += uint16(i)
			fs = append(fs, pcaptest.Frame(c.spec))
		}
	}
	return fs
}

func BenchmarkDecodeHand(b *testing.B) {
	fs := benchFrames()
	var p Packet
	i := 0
	for b.Loop() {
		Decode(layers.LinkTypeEthernet, fs[i%len(fs)], &p)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

func BenchmarkDecodeGopacket(b *testing.B) {
	fs := benchFrames()
	d := NewRefDecoder()
	var p Packet
	i := 0
	for b.Loop() {
		d.Decode(fs[i%len(fs)], &p)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
