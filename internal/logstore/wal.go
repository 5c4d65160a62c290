package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// The WAL is a sequence of segment files wal/NNNNNNNN.log. Each record is
//
//	u32 length of payload | u32 CRC-32C of (length bytes ‖ payload) | payload
//
// little endian. A record whose length runs past the end of the file or
// whose checksum fails ends the readable log: in the last segment it is a
// torn write of an unacknowledged commit and is cut off; elsewhere it is
// corruption and recovery stops with an error.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const walHeader = 8

// maxWALRecord bounds a record so a corrupt length cannot make recovery
// allocate gigabytes.
const maxWALRecord = 1 << 30

var errWALCorrupt = errors.New("wal record corrupt")

// appendWALRecord frames payload onto dst.
func appendWALRecord(dst, payload []byte) []byte {
	var h [walHeader]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, h[:4])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// readWALRecords calls fn for each intact record of data and returns the
// offset just past the last intact one, and errWALCorrupt if bytes follow
// it that are not a complete, valid record.
func readWALRecords(data []byte, fn func(payload []byte) error) (int, error) {
	off := 0
	for off < len(data) {
		if len(data)-off < walHeader {
			return off, errWALCorrupt
		}
		n := binary.LittleEndian.Uint32(data[off:])
		if n > maxWALRecord || int(n) > len(data)-off-walHeader {
			return off, errWALCorrupt
		}
		crc := crc32.Update(0, castagnoli, data[off:off+4])
		payload := data[off+walHeader : off+walHeader+int(n)]
		crc = crc32.Update(crc, castagnoli, payload)
		if crc != binary.LittleEndian.Uint32(data[off+4:]) {
			return off, errWALCorrupt
		}
		if err := fn(payload); err != nil {
			return off, err
		}
		off += walHeader + int(n)
	}
	return off, nil
}

func walName(dir string, n uint64) string { return vfs.Join(dir, fmt.Sprintf("%08d.log", n)) }

// wal is the writer side: records are queued into buf by commit and written
// and fsynced by whichever committer finds no sync in progress, so that
// concurrent commits share one fsync (group commit).
type wal struct {
	fs  vfs.FS
	dir string

	mu      sync.Mutex
	cond    *sync.Cond
	f       vfs.File
	seg     uint64
	buf     []byte // queued, not yet written
	spare   []byte
	queued  uint64 // records queued so far
	synced  uint64 // records durable so far
	syncing bool
	err     error // sticky: after a failed write or fsync nothing is durable any more
	size    int64 // bytes written to the current segment
}

func openWAL(fs vfs.FS, dir string, seg uint64) (*wal, error) {
	f, err := fs.Create(walName(dir, seg))
	if err != nil {
		return nil, err
	}
	if err := fs.SyncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	w := &wal{fs: fs, dir: dir, f: f, seg: seg}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

// enqueue adds a framed record to the queue and returns its ticket for wait.
// Callers hold the DB lock so that WAL order is the order of application.
func (w *wal) enqueue(payload []byte) uint64 {
	w.mu.Lock()
	w.buf = appendWALRecord(w.buf, payload)
	w.queued++
	t := w.queued
	w.mu.Unlock()
	return t
}

// enqueueEncode is enqueue for a payload that encode appends straight into
// the queue, saving a copy of large batches.
func (w *wal) enqueueEncode(encode func(dst []byte) []byte) uint64 {
	w.mu.Lock()
	off := len(w.buf)
	w.buf = append(w.buf, make([]byte, walHeader)...)
	w.buf = encode(w.buf)
	payload := w.buf[off+walHeader:]
	binary.LittleEndian.PutUint32(w.buf[off:], uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, w.buf[off:off+4])
	binary.LittleEndian.PutUint32(w.buf[off+4:], crc32.Update(crc, castagnoli, payload))
	w.queued++
	t := w.queued
	w.mu.Unlock()
	return t
}

// wait returns once record ticket is durable, doing the write and fsync
// itself if nobody else is.
func (w *wal) wait(ticket uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < ticket && w.err == nil {
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncLocked()
	}
	return w.err
}

// stickyErr is the error that stopped the WAL, if any.
func (w *wal) stickyErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// syncLocked writes and fsyncs everything queued; w.mu is held on entry and
// exit but released during the I/O.
func (w *wal) syncLocked() {
	w.syncing = true
	buf, upto, f := w.buf, w.queued, w.f
	w.buf = w.spare[:0]
	w.mu.Unlock()
	var err error
	if len(buf) > 0 {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	w.mu.Lock()
	w.syncing = false
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("wal segment %d: %w", w.seg, err)
	}
	if err == nil {
		w.synced = upto
		w.size += int64(len(buf))
	}
	if cap(buf) <= 16<<20 { // reuse the buffer of a few 1 MB batches, not of a rare burst
		w.spare = buf[:0]
	}
	w.cond.Broadcast()
}

// rotate makes everything queued durable in the current segment and starts
// segment seg; records enqueued afterwards go there.
func (w *wal) rotate(seg uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if w.synced < w.queued {
		w.syncLocked()
		if w.err != nil {
			return w.err
		}
	}
	f, err := w.fs.Create(walName(w.dir, seg))
	if err == nil {
		err = w.fs.SyncDir(w.dir)
	}
	if err != nil {
		w.err = fmt.Errorf("wal rotate: %w", err)
		return w.err
	}
	w.f.Close()
	w.f, w.seg, w.size = f, seg, 0
	return nil
}

func (w *wal) close() error {
	w.mu.Lock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.err == nil && w.synced < w.queued {
		w.syncLocked()
	}
	err := w.err
	w.f.Close()
	w.err = ErrClosed
	w.mu.Unlock()
	return err
}

// readAll reads a whole file.
func readAll(f vfs.File) ([]byte, error) {
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, err
	}
	return buf, nil
}
