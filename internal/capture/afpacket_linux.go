package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/gopacket/layers"
)

// Linux AF_PACKET constants (linux/if_packet.h); syscall lacks most.
const (
	solPacket         = 263
	packetRxRing      = 5
	packetStatistics  = 6
	packetVersion     = 10
	tpacketV3         = 2
	tpStatusUser      = 1
	tpStatusKernel    = 0
	ethPAll           = 0x0003
	packetOutgoing    = 4
	packetOtherHost   = 3
	tpacket3HdrLen    = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	blockDescHdrBytes = 8  // version + offset_to_priv before tpacket_hdr_v1
)

// RingConfig sizes an AF_PACKET TPACKET_V3 ring.
type RingConfig struct {
	BlockSize int           // bytes per block, a multiple of the page size; default 1 MiB
	Blocks    int           // default 64 (64 MiB ring)
	Snaplen   int           // bytes of each packet to copy; default 256, enough for headers
	Timeout   time.Duration // block retire timeout; default 100 ms
}

// Ring is a memory-mapped TPACKET_V3 receive ring on one interface, both
// directions.
type Ring struct {
	fd      int
	buf     []byte
	cfg     RingConfig
	block   int
	Iface   net.Interface
	drops   atomic.Uint64
	packets atomic.Uint64
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenRing opens a ring on the named interface. It needs CAP_NET_RAW.
func OpenRing(name string, cfg RingConfig) (*Ring, error) {
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 1 << 20
	}
	if cfg.Blocks == 0 {
		cfg.Blocks = 64
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = 256
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(htons(ethPAll)))
	if err != nil {
		return nil, fmt.Errorf("af_packet socket on %s: %w", name, err)
	}
	r := &Ring{fd: fd, cfg: cfg, Iface: *ifi}
	fail := func(what string, err error) (*Ring, error) {
		r.Close()
		return nil, fmt.Errorf("af_packet %s on %s: %w", what, name, err)
	}
	if err := syscall.SetsockoptInt(fd, solPacket, packetVersion, tpacketV3); err != nil {
		return fail("TPACKET_V3", err)
	}
	// struct tpacket_req3
	frameSize := 2048
	req := [7]uint32{uint32(cfg.BlockSize), uint32(cfg.Blocks), uint32(frameSize),
		uint32(cfg.BlockSize / frameSize * cfg.Blocks), uint32(cfg.Timeout / time.Millisecond), 0, 0}
	if _, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), solPacket, packetRxRing,
		uintptr(unsafe.Pointer(&req[0])), unsafe.Sizeof(req), 0); e != 0 {
		return fail("PACKET_RX_RING", e)
	}
	r.buf, err = syscall.Mmap(fd, 0, cfg.BlockSize*cfg.Blocks, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_LOCKED)
	if err != nil {
		// MAP_LOCKED fails under a small RLIMIT_MEMLOCK; the ring still works unlocked.
		r.buf, err = syscall.Mmap(fd, 0, cfg.BlockSize*cfg.Blocks, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			return fail("mmap", err)
		}
	}
	sll := syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}
	if err := syscall.Bind(fd, &sll); err != nil {
		return fail("bind", err)
	}
	// Drop counters accumulate from socket creation; start from zero.
	r.readStats()
	return r, nil
}

// Close releases the ring and its socket.
func (r *Ring) Close() error {
	if r.buf != nil {
		syscall.Munmap(r.buf)
		r.buf = nil
	}
	if r.fd >= 0 {
		err := syscall.Close(r.fd)
		r.fd = -1
		return err
	}
	return nil
}

// readStats reads and resets the kernel's counters (tpacket_stats_v3).
func (r *Ring) readStats() (packets, drops uint32) {
	var st [3]uint32
	l := uint32(unsafe.Sizeof(st))
	if _, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(r.fd), solPacket, packetStatistics,
		uintptr(unsafe.Pointer(&st[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return 0, 0
	}
	return st[0], st[1]
}

// Frame is one packet handed out by Next; Data aliases the ring and is only
// valid until the next call.
type Frame struct {
	Data []byte
	TS   int64 // unix ns
	Dir  PktDir
	// Link is how Data starts, from the device type the kernel reports:
	// Ethernet (also loopback) or a bare IP packet (tun, ip-in-ip…).
	Link layers.LinkType
}

// linkOf maps an ARPHRD device type to the framing AF_PACKET delivers.
func linkOf(hatype uint16) layers.LinkType {
	switch hatype {
	case 1, 772: // ARPHRD_ETHER, ARPHRD_LOOPBACK
		return layers.LinkTypeEthernet
	case 65534, 768, 769, 776, 778: // NONE (tun), TUNNEL, TUNNEL6, SIT, IPGRE
		return layers.LinkTypeRaw
	}
	return layers.LinkTypeEthernet
}

// Poll waits up to timeout for a filled block and hands each packet to fn,
// then returns the block to the kernel. It returns the number of kernel
// drops since the previous call. Calls must come from one goroutine.
func (r *Ring) Poll(timeout time.Duration, fn func(*Frame)) (drops uint64, err error) {
	bs := r.cfg.BlockSize
	hdr := r.buf[r.block*bs:]
	status := (*uint32)(unsafe.Pointer(&hdr[blockDescHdrBytes]))
	if atomic.LoadUint32(status)&tpStatusUser == 0 {
		fds := []pollFd{{fd: int32(r.fd), events: 0x1 /* POLLIN */ | 0x8 /* POLLERR */}}
		if err := poll(fds, int(timeout/time.Millisecond)); err != nil && !errors.Is(err, syscall.EINTR) {
			return 0, err
		}
		if fds[0].revents&0x8 != 0 {
			if err := r.linkError(); err != nil {
				return 0, err
			}
		}
	}
	var f Frame
	for n := 0; n < r.cfg.Blocks && atomic.LoadUint32(status)&tpStatusUser != 0; n++ {
		numPkts := binary.NativeEndian.Uint32(hdr[blockDescHdrBytes+4:])
		off := int(binary.NativeEndian.Uint32(hdr[blockDescHdrBytes+8:]))
		for i := uint32(0); i < numPkts && off > 0 && off < bs; i++ {
			p := hdr[off:]
			next := binary.NativeEndian.Uint32(p[0:])
			sec := binary.NativeEndian.Uint32(p[4:])
			nsec := binary.NativeEndian.Uint32(p[8:])
			snap := binary.NativeEndian.Uint32(p[12:])
			mac := binary.NativeEndian.Uint16(p[24:])
			pkttype := p[tpacket3HdrLen+10] // sockaddr_ll.sll_pkttype
			hatype := binary.NativeEndian.Uint16(p[tpacket3HdrLen+8:])
			if int(mac)+int(snap) <= len(p) && pkttype != packetOtherHost {
				f.Data = p[mac : int(mac)+int(snap)]
				f.TS = int64(sec)*1e9 + int64(nsec)
				f.Link = linkOf(hatype)
				f.Dir = DirIncoming
				if pkttype == packetOutgoing {
					f.Dir = DirOutgoing
				}
				fn(&f)
			}
			if next == 0 {
				break
			}
			off += int(next)
		}
		r.packets.Add(uint64(numPkts))
		atomic.StoreUint32(status, tpStatusKernel)
		r.block = (r.block + 1) % r.cfg.Blocks
		hdr = r.buf[r.block*bs:]
		status = (*uint32)(unsafe.Pointer(&hdr[blockDescHdrBytes]))
	}
	_, d := r.readStats()
	r.drops.Add(uint64(d))
	return uint64(d), nil
}

// linkError reads the socket's pending error, which the kernel sets
// (ENETDOWN) when the interface goes down or is deleted; reading clears it,
// so poll stops reporting it. A deleted interface ends the capture; one
// that is only down is captured again when it comes back up.
func (r *Ring) linkError() error {
	e, err := syscall.GetsockoptInt(r.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil || e == 0 {
		return err
	}
	if ifi, err := net.InterfaceByIndex(r.Iface.Index); err != nil || ifi.Name != r.Iface.Name {
		return fmt.Errorf("interface %s is gone: %w", r.Iface.Name, syscall.ENODEV)
	}
	if e != int(syscall.ENETDOWN) {
		return syscall.Errno(e)
	}
	return nil
}

// Drops is the total of kernel drops seen so far.
func (r *Ring) Drops() uint64 { return r.drops.Load() }

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

func poll(fds []pollFd, timeoutMs int) error {
	_, _, e := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(timeoutMs))
	if e != 0 {
		return e
	}
	return nil
}

// InterfacePrefixes returns the addresses of a Linux interface with their
// on-link prefixes.
func InterfacePrefixes(ifi *net.Interface) []netip.Prefix {
	addrs, _ := ifi.Addrs()
	var out []netip.Prefix
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return out
}
