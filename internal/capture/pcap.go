package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// PcapOptions configures ProcessPcap.
type PcapOptions struct {
	Identity  Identity
	MachineID string // default MachineID()
	Table     TableConfig
	// Local lists the capturing host's addresses. When empty they are
	// inferred per interface: the most frequent unicast MAC is the host's,
	// and the IP sources of its frames are its addresses (on raw-IP links,
	// the most frequent address).
	Local []netip.Prefix
}

// PcapResult reports what ProcessPcap did.
type PcapResult struct {
	Stats
	Frames     uint64
	Truncated  uint64 // frames too short for their headers (skipped)
	Malformed  uint64 // frames with impossible headers (skipped)
	NotIP      uint64 // non-IP frames (ARP…), skipped
	Interfaces []*Interface
}

type pcapSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// openPcap detects pcap or pcapng by magic number.
func openPcap(r io.Reader) (src pcapSource, link func(int) layers.LinkType, name func(int) string, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pcap: %w", err)
	}
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pcapng: %w", err)
		}
		return ng, func(i int) layers.LinkType {
				if it, err := ng.Interface(i); err == nil {
					return it.LinkType
				}
				return ng.LinkType()
			}, func(i int) string {
				if it, err := ng.Interface(i); err == nil && it.Name != "" {
					return it.Name
				}
				return fmt.Sprintf("pcap%d", i)
			}, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pcap: %w", err)
	}
	return pr, func(int) layers.LinkType { return pr.LinkType() }, func(i int) string { return fmt.Sprintf("pcap%d", i) }, nil
}

// inference collects per-interface evidence of which host captured.
type inference struct {
	macs  map[[6]byte]int
	ips   map[netip.Addr]int
	srcOf map[[6]byte]map[netip.Addr]int
}

func (in *inference) add(p *Packet) {
	if p.HasMAC {
		for _, m := range [2][6]byte{p.SrcMAC, p.DstMAC} {
			if m[0]&1 == 0 { // unicast
				in.macs[m]++
			}
		}
		if in.srcOf[p.SrcMAC] == nil {
			in.srcOf[p.SrcMAC] = map[netip.Addr]int{}
		}
		in.srcOf[p.SrcMAC][p.Src]++
	}
	for _, a := range [2]netip.Addr{p.Src, p.Dst} {
		if !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			in.ips[a]++
		}
	}
}

func best[K comparable](m map[K]int, less func(a, b K) bool) (k K, ok bool) {
	n := -1
	for x, c := range m {
		if c > n || c == n && less(x, k) {
			k, n, ok = x, c, true
		}
	}
	return k, ok
}

// local returns the inferred MAC and addresses, most frequent first.
func (in *inference) local() (mac [6]byte, hasMAC bool, prefixes []netip.Prefix) {
	mac, hasMAC = best(in.macs, func(a, b [6]byte) bool { return string(a[:]) < string(b[:]) })
	var addrs map[netip.Addr]int
	if hasMAC {
		addrs = in.srcOf[mac]
	} else if a, ok := best(in.ips, netip.Addr.Less); ok {
		addrs = map[netip.Addr]int{a: 1}
	}
	for len(addrs) > 0 {
		a, _ := best(addrs, netip.Addr.Less)
		delete(addrs, a)
		if a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return mac, hasMAC, prefixes
}

const inferFrames = 20000

// ProcessPcap reads a pcap or pcapng file and feeds its packets to a flow
// table, emitting records through opt.Table.Emit as windows close and
// flushing the open windows at the end of the file.
func ProcessPcap(path string, opt PcapOptions) (PcapResult, error) {
	var res PcapResult
	if opt.MachineID == "" {
		opt.MachineID = MachineID()
	}
	id := opt.Identity.Fill(opt.MachineID)

	// First pass over the head of the file: who is the capturing host?
	var infer map[int]*inference
	if len(opt.Local) == 0 {
		infer = map[int]*inference{}
		fh, err := os.Open(path)
		if err != nil {
			return res, err
		}
		src, link, _, err := openPcap(fh)
		if err != nil {
			fh.Close()
			return res, err
		}
		var p Packet
		for n := 0; n < inferFrames; n++ {
			data, ci, err := src.ZeroCopyReadPacketData()
			if err != nil {
				break
			}
			if Decode(link(ci.InterfaceIndex), data, &p) != nil {
				continue
			}
			in := infer[ci.InterfaceIndex]
			if in == nil {
				in = &inference{macs: map[[6]byte]int{}, ips: map[netip.Addr]int{}, srcOf: map[[6]byte]map[netip.Addr]int{}}
				infer[ci.InterfaceIndex] = in
			}
			in.add(&p)
		}
		fh.Close()
	}

	fh, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer fh.Close()
	src, link, name, err := openPcap(fh)
	if err != nil {
		return res, err
	}
	tbl := NewTable(opt.Table, nil)
	slots := map[int]int{} // pcap interface index → table index
	links := map[int]layers.LinkType{}
	var p Packet
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				res.Truncated++ // the capture was cut mid-packet
				break
			}
			return res, err
		}
		res.Frames++
		slot, ok := slots[ci.InterfaceIndex]
		if !ok {
			var it *Interface
			if in := infer[ci.InterfaceIndex]; in != nil {
				mac, hasMAC, prefixes := in.local()
				it = NewInterface(id, name(ci.InterfaceIndex), mac, hasMAC, prefixes)
			} else {
				it = NewInterface(id, name(ci.InterfaceIndex), [6]byte{}, false, opt.Local)
			}
			slot = tbl.AddInterface(it)
			slots[ci.InterfaceIndex] = slot
			links[ci.InterfaceIndex] = link(ci.InterfaceIndex)
			res.Interfaces = append(res.Interfaces, it)
		}
		if err := Decode(links[ci.InterfaceIndex], data, &p); err != nil {
			switch err {
			case ErrTruncated:
				res.Truncated++
			case ErrNotIP:
				res.NotIP++
			default:
				res.Malformed++
			}
			continue
		}
		tbl.Add(slot, ci.Timestamp.UnixNano(), &p)
	}
	tbl.Flush()
	res.Stats = tbl.Stats()
	return res, nil
}
