package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Batch is one stream's events of one closed window, the unit the spool
// stores and the sender puts with one PutLogEvents.
type Batch struct {
	Group, Stream string
	Events        []Event // in timestamp order
}

// Event is a log event: a record line and its timestamp (start × 1000).
type Event struct {
	Timestamp int64 // unix ms
	Message   string
}

// Spool keeps batches on disk between capture and the server, so a server
// that is away loses nothing: a batch is acknowledged to capture only once
// it is a complete, fsynced file, and removed only once the server has
// accepted it. Files are named by a sequence number so replay keeps their
// order; each is written to a temporary name, fsynced, renamed and the
// directory fsynced, so a crash leaves either the whole batch or nothing.
//
// The spool is bounded by MaxBytes: past it the oldest batches are dropped
// (and counted, with a warning); within it nothing is dropped.
type Spool struct {
	dir      string
	maxBytes int64
	log      *slog.Logger

	mu      sync.Mutex
	next    uint64
	files   []spoolEntry // oldest first
	size    int64
	dropped uint64 // batches dropped past the bound
	notify  chan struct{}
}

type spoolEntry struct {
	seq  uint64
	size int64
}

const (
	spoolExt   = ".batch"
	spoolMagic = "flowwatch-agent-batch 1"
)

// OpenSpool opens (creating) dir, removes temporary files a crash left and
// lists the batches waiting.
func OpenSpool(dir string, maxBytes int64, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent spool: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("agent spool: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, log: log, notify: make(chan struct{}, 1)}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		seqText, ok := strings.CutSuffix(name, spoolExt)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.files = append(s.files, spoolEntry{seq: seq, size: info.Size()})
		s.size += info.Size()
		s.next = max(s.next, seq+1)
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].seq < s.files[j].seq })
	return s, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, spoolExt))
}

// Put stores batches durably, in order; when it returns nil they survive a
// crash. Past MaxBytes the oldest batches are dropped to make room.
func (s *Spool) Put(batches ...Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range batches {
		data := encodeBatch(&b)
		seq := s.next
		tmp := s.path(seq) + ".tmp"
		if err := writeSync(tmp, data); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("agent spool: %w", err)
		}
		if err := os.Rename(tmp, s.path(seq)); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("agent spool: %w", err)
		}
		s.next++
		s.files = append(s.files, spoolEntry{seq: seq, size: int64(len(data))})
		s.size += int64(len(data))
		for s.maxBytes > 0 && s.size > s.maxBytes && len(s.files) > 1 {
			old := s.files[0]
			if err := os.Remove(s.path(old.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("agent spool: %w", err)
			}
			s.files = s.files[1:]
			s.size -= old.size
			s.dropped++
			s.log.Warn("spool full: dropped the oldest batch", "batch", old.seq, "bytes", old.size, "dropped_total", s.dropped, "max_bytes", s.maxBytes)
		}
	}
	// The renames are durable only once the directory is.
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("agent spool: %w", err)
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Oldest returns the oldest batch and its sequence number; ok is false
// when the spool is empty. A file that cannot be read is dropped (counted)
// rather than blocking every later batch.
func (s *Spool) Oldest() (b Batch, seq uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.files) > 0 {
		e := s.files[0]
		data, err := os.ReadFile(s.path(e.seq))
		if err == nil {
			if b, err = decodeBatch(data); err == nil {
				return b, e.seq, true
			}
		}
		s.log.Error("unreadable spool batch dropped", "batch", e.seq, "err", err)
		os.Remove(s.path(e.seq))
		s.files = s.files[1:]
		s.size -= e.size
		s.dropped++
	}
	return Batch{}, 0, false
}

// Done removes batch seq once the server has it.
func (s *Spool) Done(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.files {
		if e.seq == seq {
			if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("agent spool: %w", err)
			}
			s.files = append(s.files[:i], s.files[i+1:]...)
			s.size -= e.size
			return nil
		}
	}
	return nil
}

// Len, Size and Dropped report the spool's state.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}

// Size is the bytes of the batches waiting.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Dropped counts batches dropped past the bound (or unreadable).
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Notify receives a value after each Put.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

func writeSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// A batch file is text, readable when debugging:
//
//	flowwatch-agent-batch 1
//	group <name>
//	stream <name>
//	<timestamp ms> <message>   (one line per event)
//	end <event count>
func encodeBatch(b *Batch) []byte {
	var buf bytes.Buffer
	buf.WriteString(spoolMagic + "\ngroup " + b.Group + "\nstream " + b.Stream + "\n")
	for _, e := range b.Events {
		buf.WriteString(strconv.FormatInt(e.Timestamp, 10))
		buf.WriteByte(' ')
		buf.WriteString(e.Message)
		buf.WriteByte('\n')
	}
	buf.WriteString("end " + strconv.Itoa(len(b.Events)) + "\n")
	return buf.Bytes()
}

func decodeBatch(data []byte) (Batch, error) {
	var b Batch
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	if l, ok := line(); !ok || l != spoolMagic {
		return b, errors.New("not a batch file")
	}
	l, _ := line()
	g, ok1 := strings.CutPrefix(l, "group ")
	l, _ = line()
	st, ok2 := strings.CutPrefix(l, "stream ")
	if !ok1 || !ok2 {
		return b, errors.New("batch without group or stream")
	}
	b.Group, b.Stream = g, st
	for {
		l, ok := line()
		if !ok {
			return b, errors.New("truncated batch")
		}
		if n, ok := strings.CutPrefix(l, "end "); ok {
			if strconv.Itoa(len(b.Events)) != n {
				return b, errors.New("batch count mismatch")
			}
			return b, nil
		}
		ts, msg, ok := strings.Cut(l, " ")
		t, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil {
			return b, errors.New("bad event line")
		}
		b.Events = append(b.Events, Event{Timestamp: t, Message: msg})
	}
}
