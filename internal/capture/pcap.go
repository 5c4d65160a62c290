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
	// Classic pcap is read in place from a memory mapping; pcapng (and
	// anything mmap refuses) goes through pcapgo.
	var next func() ([]byte, int64, int, error)
	var link func(int) layers.LinkType
	var name func(int) string
	if m, err := openMmapPcap(fh); err == nil {
		defer m.close()
		next = func() ([]byte, int64, int, error) {
			d, ts, err := m.next()
			return d, ts, 0, err
		}
		link = func(int) layers.LinkType { return m.link }
		name = func(i int) string { return fmt.Sprintf("pcap%d", i) }
	} else if errors.Is(err, ErrLinkType) {
		return res, err
	} else {
		var src pcapSource
		if src, link, name, err = openPcap(fh); err != nil {
			return res, err
		}
		next = func() ([]byte, int64, int, error) {
			d, ci, err := src.ZeroCopyReadPacketData()
			return d, ci.Timestamp.UnixNano(), ci.InterfaceIndex, err
		}
	}
	tbl := NewTable(opt.Table, nil)
	// Interfaces are looked up by pcap index in a small slice, not a map:
	// this loop runs for every packet.
	var slots []int
	var links []layers.LinkType
	// Decoded packets go to the table in batches (AddBatch overlaps their
	// cache misses); a batch is one interface's.
	var batch [BatchMax]Packet
	var times [BatchMax]int64
	n, batchSlot := 0, -1
	flush := func() {
		if n > 0 {
			tbl.AddBatch(batchSlot, times[:n], batch[:n])
			n = 0
		}
	}
	for {
		data, ts, ifIndex, err := next()
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
		if ifIndex < 0 || ifIndex > 1<<16 {
			res.Malformed++
			continue
		}
		for ifIndex >= len(slots) {
			slots = append(slots, -1)
			links = append(links, 0)
		}
		slot := slots[ifIndex]
		if slot < 0 {
			var it *Interface
			if in := infer[ifIndex]; in != nil {
				mac, hasMAC, prefixes := in.local()
				it = NewInterface(id, name(ifIndex), mac, hasMAC, prefixes)
			} else {
				it = NewInterface(id, name(ifIndex), [6]byte{}, false, opt.Local)
			}
			slot = tbl.AddInterface(it)
			slots[ifIndex] = slot
			links[ifIndex] = link(ifIndex)
			res.Interfaces = append(res.Interfaces, it)
		}
		if slot != batchSlot || n == BatchMax {
			flush()
			batchSlot = slot
		}
		if err := Decode(links[ifIndex], data, &batch[n]); err != nil {
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
		times[n] = ts
		n++
	}
	flush()
	tbl.Flush()
	res.Stats = tbl.Stats()
	return res, nil
}
