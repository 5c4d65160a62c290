package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// mmapPcap reads a classic pcap file in place from a read-only memory
// mapping: no copy of packet data and no per-packet allocation, which is
// most of the cost of reading a large capture through io.Reader.
type mmapPcap struct {
	data  []byte
	off   int
	freed int // pages before this offset were given back to the kernel
	order binary.ByteOrder
	big   bool // order is big-endian
	nanos bool
	link  layers.LinkType
}

var errNotClassicPcap = errors.New("not a classic pcap file")

func openMmapPcap(fh *os.File) (*mmapPcap, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < 24 {
		return nil, errNotClassicPcap
	}
	var hdr [24]byte
	if _, err := fh.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	m := &mmapPcap{off: 24}
	switch binary.LittleEndian.Uint32(hdr[0:4]) {
	case 0xa1b2c3d4:
		m.order = binary.LittleEndian
	case 0xa1b23c4d:
		m.order, m.nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		m.order = binary.BigEndian
	case 0x4d3cb2a1:
		m.order, m.nanos = binary.BigEndian, true
	default:
		return nil, errNotClassicPcap
	}
	m.big = m.order == binary.BigEndian
	lt := m.order.Uint32(hdr[20:24]) & 0x0fffffff // upper bits carry FCS info
	if lt > 255 {
		return nil, fmt.Errorf("pcap: link type %d: %w", lt, ErrLinkType)
	}
	m.link = layers.LinkType(lt)
	m.data, err = syscall.Mmap(int(fh.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	syscall.Madvise(m.data, 2 /* MADV_SEQUENTIAL */)
	return m, nil
}

func (m *mmapPcap) close() { syscall.Munmap(m.data) }

// next returns the next packet's captured bytes and time (unix ns).
func (m *mmapPcap) next() ([]byte, int64, error) {
	if m.off == len(m.data) {
		return nil, 0, io.EOF
	}
	if len(m.data)-m.off < 16 {
		return nil, 0, io.ErrUnexpectedEOF
	}
	h := m.data[m.off : m.off+16]
	// Not m.order.Uint32: a call through the interface per field, per
	// packet, is not inlined.
	var sec, frac int64
	var n int
	if m.big {
		sec, frac = int64(binary.BigEndian.Uint32(h[0:4])), int64(binary.BigEndian.Uint32(h[4:8]))
		n = int(binary.BigEndian.Uint32(h[8:12]))
	} else {
		sec, frac = int64(binary.LittleEndian.Uint32(h[0:4])), int64(binary.LittleEndian.Uint32(h[4:8]))
		n = int(binary.LittleEndian.Uint32(h[8:12]))
	}
	if !m.nanos {
		frac *= 1000
	}
	start := m.off + 16
	if n > len(m.data)-start {
		return nil, 0, io.ErrUnexpectedEOF
	}
	m.off = start + n
	if m.off-m.freed >= 64<<20 {
		// Drop what has been read so a large file does not show up as
		// resident memory; the data is never read again.
		end := m.off &^ (1<<16 - 1)
		syscall.Madvise(m.data[m.freed:end], 4 /* MADV_DONTNEED */)
		m.freed = end
	}
	return m.data[start:m.off:m.off], sec*1e9 + frac, nil
}

// ZeroCopyReadPacketData makes mmapPcap a pcapSource for the inference
// pass, which is not on the hot path.
func (m *mmapPcap) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	d, ts, err := m.next()
	return d, gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(d), Length: len(d)}, err
}
