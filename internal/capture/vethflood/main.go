//go:build linux

// Command vethflood sends pre-built UDP frames out of one interface as fast
// as, or at the rate, asked: the traffic generator of scripts/bench-live.sh.
// A UDP socket goes through the whole stack per datagram and tops out near
// 140k packets/s on a small VM; an AF_PACKET socket with PACKET_QDISC_BYPASS
// and sendmmsg batches of ready frames costs only the driver's transmit,
// which is what a capture benchmark needs from its generator.
//
// It prints "sent N in DURATION (PPS pps)" and nothing else on stdout. Only
// use it on interfaces the benchmark created (a veth into a namespace).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	solPacket         = 263
	packetQdiscBypass = 20
)

func main() {
	ifname := flag.String("i", "", "interface to send on")
	dstMAC := flag.String("dst-mac", "", "destination MAC (the capturing end's, so the frames are for that host)")
	src := flag.String("src", "", "source IPv4 address")
	dst := flag.String("dst", "", "destination IPv4 address")
	dport := flag.Int("dport", 9, "UDP destination port")
	flows := flag.Int("flows", 1000, "distinct flows (source ports from 10000 up)")
	payload := flag.Int("payload", 18, "UDP payload bytes (18 makes a 60-byte frame)")
	pps := flag.Int("pps", 300000, "packets per second; 0 sends as fast as possible")
	dur := flag.Duration("duration", 10*time.Second, "how long to send")
	batch := flag.Int("batch", 64, "frames per sendmmsg")
	flag.Parse()
	if err := run(*ifname, *dstMAC, *src, *dst, *dport, *flows, *payload, *pps, *dur, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "vethflood:", err)
		os.Exit(1)
	}
}

func run(ifname, dstMAC, src, dst string, dport, flows, payload, pps int, dur time.Duration, batch int) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	dmac, err := net.ParseMAC(dstMAC)
	if err != nil || len(dmac) != 6 {
		return fmt.Errorf("--dst-mac: %q is not a MAC", dstMAC)
	}
	sip, dip := net.ParseIP(src).To4(), net.ParseIP(dst).To4()
	if sip == nil || dip == nil {
		return fmt.Errorf("--src and --dst must be IPv4 addresses")
	}
	if flows < 1 || flows > 50000 || batch < 1 || payload < 0 || payload > 1472 {
		return fmt.Errorf("--flows must be 1..50000, --batch at least 1, --payload 0..1472")
	}
	frames := make([][]byte, flows)
	for i := range frames {
		frames[i] = frame(ifi.HardwareAddr, dmac, sip, dip, uint16(10000+i), uint16(dport), payload)
	}

	// Protocol 0: the socket only sends, so the kernel hands it no copies.
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("af_packet socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, solPacket, packetQdiscBypass, 1); err != nil {
		return fmt.Errorf("PACKET_QDISC_BYPASS: %w", err)
	}
	sll := syscall.RawSockaddrLinklayer{Family: syscall.AF_PACKET, Ifindex: int32(ifi.Index), Halen: 6}
	copy(sll.Addr[:], dmac)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}

	// One mmsghdr per frame of a batch; batch b starts at flow b*batch.
	type mmsghdr struct {
		hdr syscall.Msghdr
		n   uint32
		_   [4]byte
	}
	iov := make([]syscall.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&sll))
		msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(sll))
		msgs[i].hdr.Iov = &iov[i]
		msgs[i].hdr.Iovlen = 1
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	var sent, errs uint64
	next := 0
	t0 := time.Now()
	end := t0.Add(dur)
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		select {
		case <-stop:
			end = now
			continue
		default:
		}
		if pps > 0 {
			// Pace by the running total, so short sleeps average out.
			due := time.Duration(float64(sent) / float64(pps) * float64(time.Second))
			if ahead := due - now.Sub(t0); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		n := batch
		if pps > 0 {
			n = min(batch, max(1, pps/1000))
		}
		for i := 0; i < n; i++ {
			f := frames[next]
			next++
			if next == len(frames) {
				next = 0
			}
			iov[i].Base = &f[0]
			iov[i].SetLen(len(f))
		}
		r, _, e := syscall.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(n), 0, 0, 0)
		if e != 0 {
			// ENOBUFS and the like: the frames did not leave; try again.
			errs++
			if e != syscall.ENOBUFS && e != syscall.EAGAIN && e != syscall.EINTR {
				return fmt.Errorf("sendmmsg: %w", e)
			}
			continue
		}
		sent += uint64(r)
		if int(r) < n {
			// The unsent frames are resent next round, keeping the flows' shares even.
			next = (next - (n - int(r)) + 2*len(frames)) % len(frames)
		}
	}
	el := time.Since(t0)
	fmt.Printf("sent %d in %.3fs (%.0f pps)\n", sent, el.Seconds(), float64(sent)/el.Seconds())
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "vethflood: %d sendmmsg calls failed and were retried\n", errs)
	}
	return nil
}

// frame builds an Ethernet/IPv4/UDP frame with a valid IP checksum (the
// receiver drops bad ones) and no UDP checksum (0 is allowed for IPv4).
func frame(smac, dmac net.HardwareAddr, sip, dip net.IP, sport, dport uint16, payload int) []byte {
	b := make([]byte, 14+20+8+payload)
	copy(b[0:6], dmac)
	copy(b[6:12], smac)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	ip[6] = 0x40 // DF
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], sip)
	copy(ip[16:20], dip)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+payload))
	return b
}
