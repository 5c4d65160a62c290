package capture

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"time"
)

// NFLOG: packets that the host firewall drops are sent to a netlink group
// by an nftables rule such as
//
//	nft add rule inet filter input tcp dport 22 log group 7 drop
//
// and read here, so they become REJECT records (AWS's verdict for traffic
// a security group or network ACL denies).
const (
	netlinkNetfilter  = 12
	nfnlSubsysULOG    = 4
	nfulnlMsgPacket   = 0
	nfulnlMsgConfig   = 1
	nfulaCfgCmd       = 1
	nfulaCfgMode      = 2
	nfulaCfgTimeout   = 4
	nfulaCfgQThresh   = 5
	nfulnlCfgCmdBind  = 1
	nfulnlCopyPacket  = 2
	nfulaPacketHdr    = 1
	nfulaTimestamp    = 3
	nfulaIfindexIn    = 4
	nfulaIfindexOut   = 5
	nfulaPayload      = 9
	nlmFRequest       = 1
	nlmFAck           = 4
	nlmsgError        = 2
	nlmsgHdrLen       = 16
	nfgenmsgLen       = 4
	nflogCopyRange    = 256
	nflogRecvBufBytes = 4 << 20
)

// NFLOG is a subscription to one nflog group.
type NFLOG struct {
	fd    int
	group uint16
	buf   []byte
}

// RejectEvent is one packet the firewall dropped.
type RejectEvent struct {
	Packet   Packet
	TS       int64 // unix ns
	InIndex  int   // ifindex it arrived on, 0 if locally generated
	OutIndex int   // ifindex it was leaving by, 0 if it was for this host
}

// OpenNFLOG subscribes to nflog group (the N of "log group N").
func OpenNFLOG(group uint16) (*NFLOG, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return nil, fmt.Errorf("nflog socket: %w", err)
	}
	n := &NFLOG{fd: fd, group: group, buf: make([]byte, 1<<16)}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		n.Close()
		return nil, fmt.Errorf("nflog bind: %w", err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, nflogRecvBufBytes)
	// Bind the group, copy packets (headers are enough) and deliver each
	// at once instead of batching for a second.
	steps := [][]byte{
		nlattr(nfulaCfgCmd, []byte{nfulnlCfgCmdBind}),
		nlattr(nfulaCfgMode, binary.BigEndian.AppendUint32(nil, nflogCopyRange), nfulnlCopyPacket, 0),
		nlattr(nfulaCfgQThresh, binary.BigEndian.AppendUint32(nil, 1)),
		nlattr(nfulaCfgTimeout, binary.BigEndian.AppendUint32(nil, 1)),
	}
	for i, a := range steps {
		if err := n.config(uint32(i+1), a); err != nil {
			n.Close()
			return nil, fmt.Errorf("nflog group %d: %w", group, err)
		}
	}
	return n, nil
}

func nlattr(typ uint16, parts ...any) []byte {
	var v []byte
	for _, p := range parts {
		switch x := p.(type) {
		case []byte:
			v = append(v, x...)
		case int:
			v = append(v, byte(x))
		}
	}
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// config sends one NFULNL_MSG_CONFIG request and waits for its ack.
func (n *NFLOG) config(seq uint32, attr []byte) error {
	msg := make([]byte, nlmsgHdrLen+nfgenmsgLen, nlmsgHdrLen+nfgenmsgLen+len(attr))
	binary.NativeEndian.PutUint16(msg[4:], nfnlSubsysULOG<<8|nfulnlMsgConfig)
	binary.NativeEndian.PutUint16(msg[6:], nlmFRequest|nlmFAck)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	msg[16] = syscall.AF_UNSPEC
	binary.BigEndian.PutUint16(msg[18:], n.group)
	msg = append(msg, attr...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	if err := syscall.Sendto(n.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	for {
		k, _, err := syscall.Recvfrom(n.fd, n.buf, 0)
		if err != nil {
			return err
		}
		for b := n.buf[:k]; len(b) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return fmt.Errorf("bad netlink message")
			}
			if binary.NativeEndian.Uint16(b[4:]) == nlmsgError && binary.NativeEndian.Uint32(b[8:]) == seq {
				if code := int32(binary.NativeEndian.Uint32(b[16:])); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
			b = b[(l+3)&^3:]
		}
	}
}

// Close ends the subscription.
func (n *NFLOG) Close() error {
	if n.fd < 0 {
		return nil
	}
	err := syscall.Close(n.fd)
	n.fd = -1
	return err
}

// Read waits up to timeout for dropped packets and hands each to fn.
func (n *NFLOG) Read(timeout time.Duration, fn func(*RejectEvent)) error {
	fds := []pollFd{{fd: int32(n.fd), events: 0x1}}
	if err := poll(fds, int(timeout/time.Millisecond)); err != nil && err != syscall.EINTR {
		return err
	}
	if fds[0].revents&0x1 == 0 {
		return nil
	}
	k, _, err := syscall.Recvfrom(n.fd, n.buf, syscall.MSG_DONTWAIT)
	if err != nil {
		if err == syscall.EAGAIN || err == syscall.ENOBUFS {
			return nil // ENOBUFS: the kernel dropped log messages; carry on
		}
		return err
	}
	var ev RejectEvent
	for b := n.buf[:k]; len(b) >= nlmsgHdrLen; {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return nil
		}
		if binary.NativeEndian.Uint16(b[4:]) == nfnlSubsysULOG<<8|nfulnlMsgPacket && l >= nlmsgHdrLen+nfgenmsgLen {
			if parseNFLOGPacket(b[nlmsgHdrLen+nfgenmsgLen:l], &ev) {
				fn(&ev)
			}
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return nil
}

// parseNFLOGPacket reads the attributes of one NFULNL_MSG_PACKET.
func parseNFLOGPacket(attrs []byte, ev *RejectEvent) bool {
	*ev = RejectEvent{TS: time.Now().UnixNano()}
	var payload []byte
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs[0:]))
		typ := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff
		if l < 4 || l > len(attrs) {
			return false
		}
		v := attrs[4:l]
		switch typ {
		case nfulaIfindexIn:
			if len(v) >= 4 {
				ev.InIndex = int(binary.BigEndian.Uint32(v))
			}
		case nfulaIfindexOut:
			if len(v) >= 4 {
				ev.OutIndex = int(binary.BigEndian.Uint32(v))
			}
		case nfulaTimestamp:
			if len(v) >= 16 {
				ev.TS = int64(binary.BigEndian.Uint64(v[0:]))*1e9 + int64(binary.BigEndian.Uint64(v[8:]))*1e3
			}
		case nfulaPayload:
			payload = v
		}
		attrs = attrs[min((l+3)&^3, len(attrs)):]
	}
	return payload != nil && decodeIP(payload, &ev.Packet) == nil
}
