package logstore

import (
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// Options configure Open. Only Dir is required; every knob has a default
// that suits a server holding tens of millions of events in under 1 GiB.
type Options struct {
	Dir    string
	FS     vfs.FS       // default vfs.Default
	Logger *slog.Logger // default slog.Default()

	// MemtableBytes is the size of buffered messages that triggers a flush
	// to parts (default 64 MiB). Appends wait when two memtables' worth is
	// buffered, so memory stays bounded if disks are slow.
	MemtableBytes int
	// BlockRows is the most rows per part block (default 32768).
	BlockRows int
	// MergeParts parts of similar size in one partition are merged into
	// one (default 8: under sustained ingest a row is rewritten fewer
	// times than with 4, for a few more parts to read). Negative: no
	// merges but those Compact asks for (bulk loads that compact at the
	// end).
	MergeParts int
	// MaintenanceInterval is how often retention and merges are checked
	// even when nothing is written (default 1 minute).
	MaintenanceInterval time.Duration
	// Now is the clock retention is measured against (default time.Now).
	Now func() time.Time
	// NoSync makes Append and metadata changes return before their WAL
	// records are fsynced; they become durable at the next flush (Flush,
	// Close, or a full memtable). For bulk loads only: a crash loses
	// what was not flushed.
	NoSync bool
	// NoBackground turns off background flushes, merges and retention, for
	// tests that call Flush and Compact themselves.
	NoBackground bool
}

func (o *Options) setDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemtableBytes <= 0 {
		o.MemtableBytes = 64 << 20
	}
	if o.BlockRows <= 0 {
		o.BlockRows = 32768
	}
	if o.MergeParts == 0 || o.MergeParts == 1 {
		o.MergeParts = 4
	}
	if o.MaintenanceInterval <= 0 {
		o.MaintenanceInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DB is the durable Store. See docs/storage.md for the files it keeps.
type DB struct {
	opts Options
	fs   vfs.FS
	log  *slog.Logger

	walDir, partDir string
	lock            io.Closer

	// flushMu serialises flushes, mergeMu merges and purges, metaMu META
	// writes. Flushes and merges run on their own goroutines so that a long
	// merge never holds up the flush that keeps memory bounded.
	flushMu, mergeMu, metaMu sync.Mutex

	mu         sync.RWMutex
	closed     bool
	failed     error // a flush or META write failed: refuse writes, reopen recovers from the WAL
	seq        uint64
	nextGroup  uint64
	nextStream uint64
	nextPart   uint64
	groups     map[string]*dbGroup
	groupsByID map[uint64]*dbGroup
	wal        *wal
	walSeg     uint64
	walStart   uint64
	cp         checkpoint // metadata as of the start of segment walStart
	mem        *memtable
	imm        *memtable // being flushed
	flushed    chan struct{}
	obsolete   []*part // dropped from groups, removed once META no longer lists them

	// copiedBlocks counts blocks merges copied without decoding (tests).
	copiedBlocks atomic.Int64

	kickFlush chan struct{}
	kickMerge chan struct{}
	quit      chan struct{}
	bg        sync.WaitGroup
}

type dbGroup struct {
	id      uint64
	name    string
	meta    GroupMeta
	streams map[string]*dbStream
	byID    map[uint64]*dbStream
	parts   []*part
}

type dbStream struct {
	id      uint64
	name    string
	created int64
	stats   streamStats
}

type memtable struct {
	groups map[uint64][]row
	bytes  int
	rows   int
	// hint: each group's rows in the previous memtable, to allocate its
	// slice once rather than grow it by copying.
	hint map[uint64]int
}

func newMemtable() *memtable { return &memtable{groups: map[uint64][]row{}} }

// checkpoint is the metadata written in META; WAL segments from walStart
// on are replayed on top of it.
type checkpoint struct {
	Seq        uint64
	NextGroup  uint64
	NextStream uint64
	Groups     []cpGroup
}

type cpGroup struct {
	ID      uint64
	Name    string
	Meta    GroupMeta
	Streams []cpStream
}

type cpStream struct {
	ID      uint64
	Name    string
	Created int64
}

type metaFile struct {
	Format   int
	WALStart uint64
	NextPart uint64
	Parts    []uint64
	Meta     checkpoint
}

const metaMagic = "FWMETA01"

// WAL record types.
const (
	recMeta   = 1
	recAppend = 2
)

type walMeta struct {
	Op      string // cg dg ug cs ds
	GID     uint64
	SID     uint64     `json:",omitempty"`
	Name    string     `json:",omitempty"`
	Meta    *GroupMeta `json:",omitempty"`
	Created int64      `json:",omitempty"`
}

// Open opens or creates the store in opts.Dir, replaying the WAL.
func Open(opts Options) (*DB, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, errors.New("logstore: Options.Dir is empty")
	}
	db := &DB{opts: opts, fs: opts.FS, log: opts.Logger,
		walDir: vfs.Join(opts.Dir, "wal"), partDir: vfs.Join(opts.Dir, "parts"),
		groups: map[string]*dbGroup{}, groupsByID: map[uint64]*dbGroup{},
		mem: newMemtable(), flushed: make(chan struct{}),
		kickFlush: make(chan struct{}, 1), kickMerge: make(chan struct{}, 1), quit: make(chan struct{})}
	for _, d := range []string{opts.Dir, db.walDir, db.partDir} {
		if err := db.fs.MkdirAll(d); err != nil {
			return nil, fmt.Errorf("logstore open: %w", err)
		}
	}
	lock, err := db.fs.Lock(vfs.Join(opts.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("logstore open: %w", err)
	}
	db.lock = lock
	if err := db.recoverState(); err != nil {
		db.releaseParts()
		lock.Close()
		return nil, fmt.Errorf("logstore open %s: %w", opts.Dir, err)
	}
	if !opts.NoBackground {
		db.bg.Add(2)
		go db.flusher()
		go db.merger()
	}
	return db, nil
}

func (db *DB) recoverState() error {
	var mf metaFile
	data, err := db.readFile(vfs.Join(db.opts.Dir, "META"))
	switch {
	case err == nil:
		if mf, err = decodeMeta(data); err != nil {
			return err
		}
	case isNotExist(err):
		mf = metaFile{Meta: checkpoint{NextGroup: 1, NextStream: 1}, NextPart: 1, WALStart: 1}
	default:
		return err
	}
	db.fs.Remove(vfs.Join(db.opts.Dir, "META.tmp"))
	db.loadCheckpoint(mf.Meta)
	db.cp = mf.Meta
	db.nextPart = mf.NextPart
	db.walStart = mf.WALStart

	// Parts: those META lists are live; any other file is the output of a
	// flush or merge that crashed before committing, or a part whose
	// removal was interrupted.
	listed := map[uint64]bool{}
	for _, id := range mf.Parts {
		listed[id] = true
		p, err := openPart(db.fs, db.partPath(id), id)
		if err != nil {
			return err
		}
		g := db.groupsByID[p.gid]
		if g == nil {
			p.obsolete.Store(true)
			db.obsolete = append(db.obsolete, p)
			continue
		}
		g.parts = append(g.parts, p)
		db.seq = max(db.seq, p.maxSeq)
	}
	names, err := db.fs.List(db.partDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		id, ok := partID(n)
		if !ok || !listed[id] {
			db.fs.Remove(vfs.Join(db.partDir, n))
		}
	}

	// WAL replay.
	names, err = db.fs.List(db.walDir)
	if err != nil {
		return err
	}
	var segs []uint64
	for _, n := range names {
		seg, err := strconv.ParseUint(strings.TrimSuffix(n, ".log"), 10, 64)
		if err != nil || !strings.HasSuffix(n, ".log") {
			continue
		}
		if seg < db.walStart {
			db.fs.Remove(vfs.Join(db.walDir, n))
			continue
		}
		segs = append(segs, seg)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	last := db.walStart
	for i, seg := range segs {
		path := walName(db.walDir, seg)
		data, err := db.readFile(path)
		if err != nil {
			return err
		}
		good, err := readWALRecords(data, db.replay)
		if errors.Is(err, errWALCorrupt) {
			if i != len(segs)-1 {
				return fmt.Errorf("wal segment %d corrupt at offset %d with later segments present: %w", seg, good, err)
			}
			db.log.Warn("logstore: cutting torn WAL tail", "segment", seg, "offset", good, "dropped_bytes", len(data)-good)
			if err := db.truncate(path, int64(good)); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("wal segment %d: %w", seg, err)
		}
		last = seg
	}
	// Recovered records stay in their segments until the next flush; new
	// records go to a fresh segment so a cut tail is never appended to.
	db.walSeg = last + 1
	if len(segs) == 0 {
		db.walSeg = db.walStart
	}
	db.wal, err = openWAL(db.fs, db.walDir, db.walSeg)
	if err != nil {
		return err
	}
	db.recomputeAllStats()
	return nil
}

func (db *DB) truncate(path string, size int64) error {
	f, err := db.fs.OpenRW(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

func isNotExist(err error) bool { return errors.Is(err, iofs.ErrNotExist) }

func (db *DB) readFile(path string) ([]byte, error) {
	f, err := db.fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f)
}

func (db *DB) partPath(id uint64) string { return vfs.Join(db.partDir, fmt.Sprintf("%016x.part", id)) }

func partID(name string) (uint64, bool) {
	if !strings.HasSuffix(name, ".part") {
		return 0, false
	}
	id, err := strconv.ParseUint(strings.TrimSuffix(name, ".part"), 16, 64)
	return id, err == nil
}

func decodeMeta(data []byte) (metaFile, error) {
	var mf metaFile
	if len(data) < 4+len(metaMagic) || string(data[len(data)-len(metaMagic):]) != metaMagic {
		return mf, fmt.Errorf("META: %w", errCorrupt)
	}
	body := data[:len(data)-len(metaMagic)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(body):]) {
		return mf, fmt.Errorf("META checksum: %w", errCorrupt)
	}
	if err := json.Unmarshal(body, &mf); err != nil {
		return mf, fmt.Errorf("META: %w", err)
	}
	if mf.Format != 1 {
		return mf, fmt.Errorf("META format %d not supported", mf.Format)
	}
	return mf, nil
}

func (db *DB) loadCheckpoint(cp checkpoint) {
	db.seq = cp.Seq
	db.nextGroup, db.nextStream = max(cp.NextGroup, 1), max(cp.NextStream, 1)
	for _, cg := range cp.Groups {
		g := db.applyCreateGroup(cg.ID, cg.Name, cg.Meta)
		for _, cs := range cg.Streams {
			db.applyCreateStream(g, cs.ID, cs.Name, cs.Created)
		}
	}
}

func (db *DB) checkpointLocked() checkpoint {
	cp := checkpoint{Seq: db.seq, NextGroup: db.nextGroup, NextStream: db.nextStream}
	for _, g := range db.groupsByID {
		cg := cpGroup{ID: g.id, Name: g.name, Meta: copyMeta(g.meta)}
		for _, s := range g.byID {
			cg.Streams = append(cg.Streams, cpStream{ID: s.id, Name: s.name, Created: s.created})
		}
		sort.Slice(cg.Streams, func(i, j int) bool { return cg.Streams[i].ID < cg.Streams[j].ID })
		cp.Groups = append(cp.Groups, cg)
	}
	sort.Slice(cp.Groups, func(i, j int) bool { return cp.Groups[i].ID < cp.Groups[j].ID })
	return cp
}

// replay applies one WAL record during recovery.
func (db *DB) replay(payload []byte) error {
	if len(payload) == 0 {
		return errCorrupt
	}
	switch payload[0] {
	case recMeta:
		var m walMeta
		if err := json.Unmarshal(payload[1:], &m); err != nil {
			return fmt.Errorf("wal meta record: %w", err)
		}
		g := db.groupsByID[m.GID]
		switch m.Op {
		case "cg":
			if g == nil && m.Meta != nil {
				db.applyCreateGroup(m.GID, m.Name, *m.Meta)
			}
		case "dg":
			if g != nil {
				db.applyDeleteGroup(g)
			}
		case "ug":
			if g != nil && m.Meta != nil {
				g.meta = copyMeta(*m.Meta)
			}
		case "cs":
			if g != nil && g.byID[m.SID] == nil {
				db.applyCreateStream(g, m.SID, m.Name, m.Created)
			}
		case "ds":
			if g != nil && g.byID[m.SID] != nil {
				db.applyDeleteStream(g, g.byID[m.SID])
			}
		default:
			return fmt.Errorf("wal meta record op %q: %w", m.Op, errCorrupt)
		}
		return nil
	case recAppend:
		gid, sid, ingest, first, events, err := decodeAppend(payload)
		if err != nil {
			return err
		}
		g := db.groupsByID[gid]
		if g == nil || g.byID[sid] == nil {
			return nil // deleted later in the log
		}
		db.applyAppend(g, g.byID[sid], ingest, first, events, nil)
		return nil
	}
	return fmt.Errorf("wal record type %d: %w", payload[0], errCorrupt)
}

func encodeAppend(dst []byte, gid, sid uint64, ingest int64, first uint64, events []Event) []byte {
	dst = append(dst, recAppend)
	dst = binary.AppendUvarint(dst, gid)
	dst = binary.AppendUvarint(dst, sid)
	dst = binary.AppendVarint(dst, ingest)
	dst = binary.AppendUvarint(dst, first)
	dst = binary.AppendUvarint(dst, uint64(len(events)))
	prev := int64(0)
	for _, e := range events {
		dst = binary.AppendVarint(dst, e.Timestamp-prev)
		prev = e.Timestamp
		dst = binary.AppendUvarint(dst, uint64(len(e.Message)))
		dst = append(dst, e.Message...)
	}
	return dst
}

func decodeAppend(p []byte) (gid, sid uint64, ingest int64, first uint64, events []Event, err error) {
	r := reader{b: p[1:]}
	gid, sid, ingest, first = r.uvarint(), r.uvarint(), r.varint(), r.uvarint()
	n := r.count(len(r.b))
	events = make([]Event, 0, n)
	prev := int64(0)
	for i := 0; i < n && r.err == nil; i++ {
		prev += r.varint()
		msg := r.bytes(r.count(len(r.b)))
		events = append(events, Event{Timestamp: prev, Message: string(msg)})
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return 0, 0, 0, 0, nil, fmt.Errorf("wal append record: %w", r.err)
	}
	return gid, sid, ingest, first, events, nil
}

func (db *DB) applyCreateGroup(id uint64, name string, meta GroupMeta) *dbGroup {
	g := &dbGroup{id: id, name: name, meta: copyMeta(meta), streams: map[string]*dbStream{}, byID: map[uint64]*dbStream{}}
	db.groups[name] = g
	db.groupsByID[id] = g
	db.nextGroup = max(db.nextGroup, id+1)
	return g
}

func (db *DB) applyDeleteGroup(g *dbGroup) {
	delete(db.groups, g.name)
	delete(db.groupsByID, g.id)
	for _, p := range g.parts {
		p.obsolete.Store(true)
		db.obsolete = append(db.obsolete, p)
	}
	g.parts = nil
	delete(db.mem.groups, g.id)
}

func (db *DB) applyCreateStream(g *dbGroup, id uint64, name string, created int64) {
	s := &dbStream{id: id, name: name, created: created}
	g.streams[name] = s
	g.byID[id] = s
	db.nextStream = max(db.nextStream, id+1)
}

func (db *DB) applyDeleteStream(g *dbGroup, s *dbStream) {
	delete(g.streams, s.name)
	delete(g.byID, s.id)
}

// prepared is a batch made ready for the memtable outside the lock: its
// messages copied, in order, into one allocation (arena), and their shapes.
type prepared struct {
	arena  string
	shapes []uint8
}

// prepare copies a batch's messages next to one another and classifies
// them. A flush reads rows by stream and time: with each batch (one stream)
// contiguous, it reads memory mostly in order instead of missing the cache
// on every message, and the caller's buffers (an import's file chunks) are
// free as soon as the call returns.
func prepare(events []Event) prepared {
	total := 0
	for i := range events {
		total += len(events[i].Message)
	}
	p := prepared{shapes: make([]uint8, len(events))}
	if total == 0 {
		return p
	}
	if contiguous(events, total) {
		// Already back to back in one allocation (flowwatch import
		// builds its batches so): strings are immutable, keep it.
		p.arena = unsafe.String(unsafe.StringData(events[0].Message), total)
		for i := range events {
			p.shapes[i] = uint8(shapeOf(events[i].Message))
		}
		return p
	}
	var arena strings.Builder // Grow does not zero the memory it allocates
	arena.Grow(total)
	for i := range events {
		arena.WriteString(events[i].Message)
	}
	p.arena = arena.String()
	off := 0
	for i := range events {
		n := len(events[i].Message)
		p.shapes[i] = uint8(shapeOf(p.arena[off : off+n]))
		off += n
	}
	return p
}

// contiguous reports whether the messages lie back to back in memory.
func contiguous(events []Event, total int) bool {
	next := uintptr(unsafe.Pointer(unsafe.StringData(events[0].Message)))
	for i := range events {
		m := events[i].Message
		if len(m) > 0 && uintptr(unsafe.Pointer(unsafe.StringData(m))) != next {
			return false
		}
		next += uintptr(len(m))
	}
	return true
}

// applyAppend adds events to the memtable. pre, when not nil, is
// prepare(events).
func (db *DB) applyAppend(g *dbGroup, s *dbStream, ingest int64, first uint64, events []Event, pre *prepared) {
	rows := db.mem.groups[g.id]
	if rows == nil {
		rows = make([]row, 0, max(len(events), db.mem.hint[g.id]+db.mem.hint[g.id]/8))
	}
	off := 0
	for i, e := range events {
		msg, sh := e.Message, uint8(0)
		if pre != nil {
			msg, sh = pre.arena[off:off+len(msg)], pre.shapes[i]
			off += len(msg)
		} else {
			sh = uint8(shapeOf(msg))
		}
		rows = append(rows, row{ts: e.Timestamp, seq: first + uint64(i), ingest: ingest, sid: s.id, msg: msg, shape: sh})
		s.stats.addRow(e.Timestamp, ingest, len(e.Message))
		db.mem.bytes += len(e.Message) + 48
	}
	db.mem.groups[g.id] = rows
	db.mem.rows += len(events)
	db.seq = max(db.seq, first+uint64(len(events))-1)
}

// recomputeAllStats rebuilds stream statistics from parts and memtables.
func (db *DB) recomputeAllStats() {
	for _, g := range db.groupsByID {
		db.recomputeStats(g)
	}
}

func (db *DB) recomputeStats(g *dbGroup) {
	for _, s := range g.byID {
		s.stats = streamStats{}
	}
	for _, p := range g.parts {
		for sid, st := range p.stats {
			if s := g.byID[sid]; s != nil {
				s.stats.add(st)
			}
		}
	}
	for _, m := range []*memtable{db.imm, db.mem} {
		if m == nil {
			continue
		}
		for _, r := range m.groups[g.id] {
			if s := g.byID[r.sid]; s != nil {
				s.stats.addRow(r.ts, r.ingest, len(r.msg))
			}
		}
	}
}

// ---- metadata operations ----

// logMeta applies nothing itself: it queues the record while db.mu is held
// and returns a wait function to call after unlocking.
func (db *DB) logMetaLocked(m walMeta) func() error {
	b, _ := json.Marshal(m)
	t := db.wal.enqueue(append([]byte{recMeta}, b...))
	return func() error { return db.waitWAL(t) }
}

func (db *DB) writable() error {
	if db.closed {
		return ErrClosed
	}
	return db.failed
}

// writableGroupLocked returns group name for a change, or why it cannot
// change (a fail-stopped or closed store, no such group). db.mu is held.
func (db *DB) writableGroupLocked(name string) (*dbGroup, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	g, ok := db.groups[name]
	if !ok {
		return nil, ErrGroupNotFound
	}
	return g, nil
}

// writableStreamLocked is writableGroupLocked for a stream of the group.
func (db *DB) writableStreamLocked(group, stream string) (*dbGroup, *dbStream, error) {
	g, err := db.writableGroupLocked(group)
	if err != nil {
		return nil, nil, err
	}
	s, ok := g.streams[stream]
	if !ok {
		return nil, nil, ErrStreamNotFound
	}
	return g, s, nil
}

func (db *DB) CreateGroup(name string, meta GroupMeta) error {
	db.mu.Lock()
	if err := db.writable(); err != nil {
		db.mu.Unlock()
		return err
	}
	if _, ok := db.groups[name]; ok {
		db.mu.Unlock()
		return ErrGroupExists
	}
	id := db.nextGroup
	db.applyCreateGroup(id, name, meta)
	m := copyMeta(meta)
	wait := db.logMetaLocked(walMeta{Op: "cg", GID: id, Name: name, Meta: &m})
	db.mu.Unlock()
	return wait()
}

func (db *DB) DeleteGroup(name string) error {
	db.mu.Lock()
	g, err := db.writableGroupLocked(name)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	db.applyDeleteGroup(g)
	wait := db.logMetaLocked(walMeta{Op: "dg", GID: g.id})
	db.mu.Unlock()
	err = wait()
	kick(db.kickMerge) // removes the parts from disk
	return err
}

func (db *DB) UpdateGroup(name string, fn func(*GroupMeta) error) error {
	db.mu.Lock()
	g, err := db.writableGroupLocked(name)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	meta := copyMeta(g.meta)
	if err := fn(&meta); err != nil {
		db.mu.Unlock()
		return err
	}
	retentionShrank := meta.RetentionDays > 0 && (g.meta.RetentionDays == 0 || meta.RetentionDays < g.meta.RetentionDays)
	g.meta = copyMeta(meta)
	wait := db.logMetaLocked(walMeta{Op: "ug", GID: g.id, Meta: &meta})
	db.mu.Unlock()
	err = wait()
	if retentionShrank {
		kick(db.kickMerge)
	}
	return err
}

func (db *DB) groupInfo(g *dbGroup) Group {
	out := Group{Name: g.name, GroupMeta: copyMeta(g.meta)}
	for _, s := range g.byID {
		out.StoredBytes += s.stats.bytes
	}
	return out
}

func (db *DB) Group(name string) (Group, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return Group{}, ErrClosed
	}
	g, ok := db.groups[name]
	if !ok {
		return Group{}, ErrGroupNotFound
	}
	return db.groupInfo(g), nil
}

func (db *DB) Groups() []Group {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]Group, 0, len(db.groups))
	for _, g := range db.groups {
		out = append(out, db.groupInfo(g))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (db *DB) CreateStream(group, stream string, creationTime int64) error {
	db.mu.Lock()
	g, err := db.writableGroupLocked(group)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	if _, ok := g.streams[stream]; ok {
		db.mu.Unlock()
		return ErrStreamExists
	}
	id := db.nextStream
	db.applyCreateStream(g, id, stream, creationTime)
	wait := db.logMetaLocked(walMeta{Op: "cs", GID: g.id, SID: id, Name: stream, Created: creationTime})
	db.mu.Unlock()
	return wait()
}

func (db *DB) DeleteStream(group, stream string) error {
	db.mu.Lock()
	g, s, err := db.writableStreamLocked(group, stream)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	db.applyDeleteStream(g, s)
	wait := db.logMetaLocked(walMeta{Op: "ds", GID: g.id, SID: s.id})
	db.mu.Unlock()
	return wait()
}

func (db *DB) Streams(group string) ([]Stream, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	g, ok := db.groups[group]
	if !ok {
		return nil, ErrGroupNotFound
	}
	out := make([]Stream, 0, len(g.streams))
	for _, s := range g.streams {
		out = append(out, s.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *dbStream) info() Stream {
	st := Stream{Name: s.name, CreationTime: s.created}
	if s.stats.rows > 0 {
		st.HasEvents = true
		st.FirstEventTimestamp, st.LastEventTimestamp = s.stats.minTs, s.stats.maxTs
		st.LastIngestionTime = s.stats.maxIngest
		st.StoredBytes = s.stats.bytes
	}
	return st
}

// ---- writes ----

// Append implements Writer: the events are durable in the WAL on return.
func (db *DB) Append(group, stream string, ingestionTime int64, events []Event) error {
	return db.append(group, stream, ingestionTime, events, true)
}

// Import appends like Append but without the WAL, for bulk loads: the
// events become durable at the next flush (Flush, or Close). A crash before
// that loses them, and nothing else.
func (db *DB) Import(group, stream string, ingestionTime int64, events []Event) error {
	return db.append(group, stream, ingestionTime, events, false)
}

func (db *DB) append(group, stream string, ingest int64, events []Event, durable bool) error {
	if len(events) == 0 {
		db.mu.RLock()
		defer db.mu.RUnlock()
		if err := db.writable(); err != nil {
			return err
		}
		g, ok := db.groups[group]
		if !ok {
			return ErrGroupNotFound
		}
		if _, ok := g.streams[stream]; !ok {
			return ErrStreamNotFound
		}
		return nil
	}
	// On the caller's CPU, outside the store's lock.
	pre := prepare(events)
	db.mu.Lock()
	// Backpressure: a full memtable while the previous one is still being
	// flushed means the disk is behind; wait rather than grow.
	for !db.opts.NoBackground && db.writable() == nil &&
		(db.imm != nil && db.mem.bytes >= db.opts.MemtableBytes || db.mem.bytes >= 2*db.opts.MemtableBytes) {
		ch := db.flushed
		db.mu.Unlock()
		kick(db.kickFlush)
		<-ch
		db.mu.Lock()
	}
	g, s, err := db.writableStreamLocked(group, stream)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	first := db.seq + 1
	var ticket uint64
	if durable {
		ticket = db.wal.enqueueEncode(func(dst []byte) []byte {
			return encodeAppend(dst, g.id, s.id, ingest, first, events)
		})
	}
	db.applyAppend(g, s, ingest, first, events, &pre)
	full := db.mem.bytes >= db.opts.MemtableBytes
	db.mu.Unlock()
	if full {
		kick(db.kickFlush)
	}
	if durable {
		return db.waitWAL(ticket)
	}
	return nil
}

// waitWAL waits for a WAL record to be durable, unless Options.NoSync.
func (db *DB) waitWAL(ticket uint64) error {
	if db.opts.NoSync {
		return db.wal.stickyErr()
	}
	return db.wal.wait(ticket)
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ---- background work ----

// flusher flushes full memtables.
func (db *DB) flusher() {
	defer db.bg.Done()
	for {
		select {
		case <-db.quit:
			return
		case <-db.kickFlush:
		}
		db.mu.RLock()
		full := db.mem.bytes >= db.opts.MemtableBytes
		db.mu.RUnlock()
		if !full {
			continue
		}
		db.flushMu.Lock()
		err := db.flush()
		db.flushMu.Unlock()
		if err != nil {
			db.log.Error("logstore: flush failed", "err", err)
		}
		kick(db.kickMerge)
	}
}

// merger applies retention and merges parts, after flushes and on a timer.
func (db *DB) merger() {
	defer db.bg.Done()
	t := time.NewTicker(db.opts.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-db.quit:
			return
		case <-db.kickMerge:
		case <-t.C:
		}
		if err := db.maintain(); err != nil {
			db.log.Error("logstore: background merge failed", "err", err)
		}
	}
}

// maintain applies retention and merges until nothing needs merging.
func (db *DB) maintain() error {
	db.mergeMu.Lock()
	defer db.mergeMu.Unlock()
	if err := db.purge(); err != nil {
		return err
	}
	for {
		select {
		case <-db.quit:
			return nil // Close: the rest can wait for the next open
		default:
		}
		merged, err := db.mergeOnce(false)
		if err != nil || !merged {
			return err
		}
	}
}

// Flush writes everything buffered to parts and truncates the WAL.
func (db *DB) Flush() error {
	db.mu.RLock()
	closed := db.closed
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	return db.flush()
}

// Compact flushes and then merges every partition down to one part, for
// benchmarks and before backups.
func (db *DB) Compact() error {
	db.flushMu.Lock()
	err := db.flush()
	db.flushMu.Unlock()
	if err != nil {
		return err
	}
	db.mergeMu.Lock()
	defer db.mergeMu.Unlock()
	for {
		merged, err := db.mergeOnce(true)
		if err != nil || !merged {
			return err
		}
	}
}

func (db *DB) fail(err error) error {
	db.mu.Lock()
	if db.failed == nil {
		db.failed = fmt.Errorf("logstore: store failed, reopen to recover: %w", err)
		// Wake Appends waiting for a flush that will not come.
		close(db.flushed)
		db.flushed = make(chan struct{})
	}
	db.mu.Unlock()
	return err
}

// flush turns the memtable into parts. Called with flushMu held.
func (db *DB) flush() error { return db.flushWith(nil) }

// flushWith is flush also installing extra parts (a bulk load's), with
// their rows added to the stream statistics, in the same META commit. On
// failure the extra parts are released.
func (db *DB) flushWith(extra []*part) error {
	release := func() {
		for _, p := range extra {
			p.obsolete.Store(true)
			p.unref()
		}
	}
	db.mu.Lock()
	if db.failed != nil {
		db.mu.Unlock()
		release()
		return db.failed
	}
	seg := db.walSeg + 1
	if err := db.wal.rotate(seg); err != nil {
		db.mu.Unlock()
		release()
		return db.fail(err)
	}
	db.walSeg = seg
	cp := db.checkpointLocked()
	mem := db.mem
	db.mem = newMemtable()
	db.mem.hint = make(map[uint64]int, len(mem.groups))
	for gid, rows := range mem.groups {
		db.mem.hint[gid] = len(rows)
	}
	db.imm = mem
	live := map[uint64]map[uint64]bool{}
	for gid, g := range db.groupsByID {
		live[gid] = map[uint64]bool{}
		for sid := range g.byID {
			live[gid][sid] = true
		}
	}
	db.mu.Unlock()

	var made []*part
	for gid, rows := range mem.groups {
		lv, ok := live[gid]
		if !ok {
			continue // group deleted
		}
		ps, err := db.writeRows(gid, rows, lv)
		if err != nil {
			for _, p := range made {
				p.obsolete.Store(true)
				p.unref()
			}
			release()
			return db.fail(fmt.Errorf("flush: %w", err))
		}
		made = append(made, ps...)
	}
	db.mu.Lock()
	for _, p := range extra {
		if g := db.groupsByID[p.gid]; g != nil {
			for sid, st := range p.stats {
				if s := g.byID[sid]; s != nil {
					s.stats.add(st)
				}
			}
		}
	}
	made = append(made, extra...)
	db.installLocked(made, nil)
	db.imm = nil
	db.cp = cp
	db.walStart = seg
	close(db.flushed)
	db.flushed = make(chan struct{})
	db.mu.Unlock()
	if err := db.writeMeta(); err != nil {
		return db.fail(err)
	}
	names, _ := db.fs.List(db.walDir)
	for _, n := range names {
		if s, err := strconv.ParseUint(strings.TrimSuffix(n, ".log"), 10, 64); err == nil && s < seg {
			db.fs.Remove(vfs.Join(db.walDir, n))
		}
	}
	return nil
}

// installLocked adds new parts to their groups and drops old ones (merge
// inputs). Parts of groups deleted meanwhile are discarded.
func (db *DB) installLocked(add, drop []*part) {
	for _, p := range drop {
		if g := db.groupsByID[p.gid]; g != nil {
			g.parts = slices.DeleteFunc(g.parts, func(q *part) bool { return q == p })
		}
		p.obsolete.Store(true)
		db.obsolete = append(db.obsolete, p)
	}
	for _, p := range add {
		g := db.groupsByID[p.gid]
		if g == nil {
			p.obsolete.Store(true)
			db.obsolete = append(db.obsolete, p)
			continue
		}
		g.parts = append(g.parts, p)
	}
}

// bucketMs is the time slice rows are grouped by inside a part, before the
// stream: a page of events in time order across all streams
// (FilterLogEvents) then opens only the blocks of its slice, while one
// stream's rows (GetLogEvents) still sit together within each slice. Blocks
// are not cut at slice ends, so sparse data does not fragment.
const bucketMs = 15 * 60 * 1000

// sortKey orders memtable rows as parts store them.
type sortKey struct {
	k   int64 // (day×128 + shape)×128 + slice of the day: |day| < 2^37, no overflow
	sid uint64
	ts  int64
	seq uint64
	i   uint32
}

func (a *sortKey) less(b *sortKey) bool {
	switch {
	case a.k != b.k:
		return a.k < b.k
	case a.sid != b.sid:
		return a.sid < b.sid
	case a.ts != b.ts:
		return a.ts < b.ts
	}
	return a.seq < b.seq
}

// sortKeys sorts by (k, sid, ts, seq). A memtable is a sequence of
// batches, each mostly one stream in time order, so it merges the ascending
// runs it finds (O(n log runs)) rather than sorting from scratch; short
// runs are first extended by insertion sort.
func sortKeys(keys []sortKey) {
	const minRun = 32
	n := len(keys)
	if n < 2 {
		return
	}
	var runs []int // run i is keys[runs[i]:runs[i+1]]
	for i := 0; i < n; {
		runs = append(runs, i)
		j := i + 1
		for j < n && !keys[j].less(&keys[j-1]) {
			j++
		}
		if j-i < minRun {
			end := min(n, i+minRun)
			for ; j < end; j++ {
				for m := j; m > i && keys[m].less(&keys[m-1]); m-- {
					keys[m], keys[m-1] = keys[m-1], keys[m]
				}
			}
			for j < n && !keys[j].less(&keys[j-1]) {
				j++
			}
		}
		i = j
	}
	runs = append(runs, n)
	if len(runs) == 2 {
		return
	}
	buf := make([]sortKey, n)
	src, dst := keys, buf
	for len(runs) > 2 {
		next := runs[:0:0]
		for r := 0; r+1 < len(runs); r += 2 {
			lo := runs[r]
			next = append(next, lo)
			if r+2 >= len(runs) {
				copy(dst[lo:], src[lo:runs[r+1]])
				continue
			}
			mid, hi := runs[r+1], runs[r+2]
			a, b, o := lo, mid, lo
			for a < mid && b < hi {
				if src[b].less(&src[a]) {
					dst[o] = src[b]
					b++
				} else {
					dst[o] = src[a]
					a++
				}
				o++
			}
			o += copy(dst[o:], src[a:mid])
			copy(dst[o:], src[b:hi])
		}
		runs = append(next, n)
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// writeRows writes a group's rows as one part per day. live, when not nil,
// says which stream ids still exist.
func (db *DB) writeRows(gid uint64, rows []row, live map[uint64]bool) ([]*part, error) {
	// Sort pointer-free keys rather than rows: no write barriers while
	// swapping, nothing for the GC to scan, and 40-byte elements.
	keys := make([]sortKey, 0, len(rows))
	shapes := make([]uint8, len(rows))
	for i := range rows {
		r := &rows[i]
		if live != nil && !live[r.sid] {
			continue
		}
		sh := int(r.shape)
		shapes[i] = r.shape
		day := floorDiv(r.ts, dayMs)
		k := ((day*128)+int64(sh))*128 + floorDiv(r.ts, bucketMs) - day*(dayMs/bucketMs)
		keys = append(keys, sortKey{k: k, sid: r.sid, ts: r.ts, seq: r.seq, i: uint32(i)})
	}
	sortKeys(keys)
	var out []*part
	for len(keys) > 0 {
		day := floorDiv(keys[0].ts, dayMs)
		n := 1
		for n < len(keys) && floorDiv(keys[n].ts, dayMs) == day {
			n++
		}
		pw, id, err := db.newPart(false)
		if err != nil {
			return out, err
		}
		rs := make([]row, n)
		for i := range rs {
			rs[i] = rows[keys[i].i]
		}
		var jobs []blockJob
		for i := 0; i < n; {
			shape := shapes[keys[i].i]
			j := i
			for j < n && shapes[keys[j].i] == shape && j-i < db.opts.BlockRows {
				j++
			}
			jobs = append(jobs, blockJob{rows: rs[i:j], shape: int(shape)})
			i = j
		}
		pw.addBlocks(jobs)
		p, err := db.finishPart(pw, id, gid, day)
		if err != nil {
			return out, err
		}
		out = append(out, p)
		keys = keys[n:]
	}
	return out, nil
}

func (db *DB) newPart(better bool) (*partWriter, uint64, error) {
	db.mu.Lock()
	id := db.nextPart
	db.nextPart++
	db.mu.Unlock()
	f, err := db.fs.Create(db.partPath(id))
	if err != nil {
		return nil, 0, err
	}
	return newPartWriter(f, better), id, nil
}

func (db *DB) finishPart(pw *partWriter, id, gid uint64, day int64) (*part, error) {
	if err := pw.finish(gid, day); err != nil {
		db.fs.Remove(db.partPath(id))
		return nil, err
	}
	// The directory entry must be durable before META can name the part.
	if err := db.fs.SyncDir(db.partDir); err != nil {
		return nil, err
	}
	return openPart(db.fs, db.partPath(id), id)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// writeMeta commits the current part list and checkpoint atomically, then
// removes files of parts no longer listed.
func (db *DB) writeMeta() error {
	db.metaMu.Lock()
	defer db.metaMu.Unlock()
	db.mu.Lock()
	mf := metaFile{Format: 1, WALStart: db.walStart, NextPart: db.nextPart, Meta: db.cp}
	for _, g := range db.groupsByID {
		for _, p := range g.parts {
			mf.Parts = append(mf.Parts, p.id)
		}
	}
	obsolete := db.obsolete
	db.obsolete = nil
	db.mu.Unlock()
	slices.Sort(mf.Parts)
	body, err := json.Marshal(mf)
	if err != nil {
		return err
	}
	data := binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
	data = append(data, metaMagic...)
	tmp := vfs.Join(db.opts.Dir, "META.tmp")
	f, err := db.fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = db.fs.Rename(tmp, vfs.Join(db.opts.Dir, "META"))
	}
	if err == nil {
		err = db.fs.SyncDir(db.opts.Dir)
	}
	if err != nil {
		db.mu.Lock()
		db.obsolete = append(obsolete, db.obsolete...)
		db.mu.Unlock()
		return fmt.Errorf("write META: %w", err)
	}
	for _, p := range obsolete {
		p.unref() // the live reference; readers may still hold theirs
	}
	return nil
}

// purge drops parts wholly past their group's retention. Called with
// mergeMu held.
func (db *DB) purge() error {
	now := db.opts.Now().UnixMilli()
	db.mu.Lock()
	dropped := false
	for _, g := range db.groupsByID {
		cutoff := retentionCutoff(g.meta.RetentionDays, now)
		var drop []*part
		for _, p := range g.parts {
			if p.maxTs < cutoff {
				drop = append(drop, p)
			}
		}
		if len(drop) > 0 {
			db.installLocked(nil, drop)
			db.recomputeStats(g)
			dropped = true
		}
	}
	pending := len(db.obsolete) > 0
	db.mu.Unlock()
	if dropped || pending {
		return db.writeMeta()
	}
	return nil
}

// mergeOnce merges one partition's parts, if any partition needs it: all
// of a partition when full, otherwise MergeParts or more parts whose sizes
// are within a factor of 4 (size tiers keep write amplification
// logarithmic). Called with mergeMu held.
func (db *DB) mergeOnce(full bool) (bool, error) {
	db.mu.RLock()
	var pick []*part
	var live map[uint64]bool
	var gid uint64
	for _, g := range db.groupsByID {
		byDay := map[int64][]*part{}
		for _, p := range g.parts {
			byDay[p.day] = append(byDay[p.day], p)
		}
		for _, ps := range byDay {
			if c := choose(ps, full, db.opts.MergeParts); c != nil {
				pick, gid = c, g.id
				live = map[uint64]bool{}
				for sid := range g.byID {
					live[sid] = true
				}
				break
			}
		}
		if pick != nil {
			break
		}
	}
	for _, p := range pick {
		p.ref()
	}
	db.mu.RUnlock()
	if pick == nil {
		return false, nil
	}
	defer func() {
		for _, p := range pick {
			p.unref()
		}
	}()
	out, err := db.mergeParts(gid, pick, live, full)
	if errors.Is(err, errMergeAborted) {
		return false, nil
	}
	if err != nil {
		return false, db.fail(fmt.Errorf("merge: %w", err))
	}
	db.mu.Lock()
	if db.groupsByID[gid] == nil {
		// Deleted meanwhile: its parts are already obsolete.
		if out != nil {
			out.obsolete.Store(true)
			db.obsolete = append(db.obsolete, out)
		}
		db.mu.Unlock()
		return true, db.writeMeta()
	}
	var add []*part
	if out != nil {
		add = []*part{out}
	}
	db.installLocked(add, pick)
	db.mu.Unlock()
	return true, db.writeMeta()
}

func choose(ps []*part, full bool, minParts int) []*part {
	if full {
		if len(ps) > 1 {
			return ps
		}
		return nil
	}
	if minParts < 0 || len(ps) < minParts {
		return nil
	}
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b *part) int { return cmpInt(a.rows, b.rows) })
	for i := 0; i+minParts <= len(sorted); i++ {
		j := i + 1
		for j < len(sorted) && sorted[j].rows <= 4*sorted[i].rows {
			j++
		}
		if j-i >= minParts {
			return sorted[i:j]
		}
	}
	return nil
}

// mergeParts streams the rows of ps, in part order, into one new part,
// dropping rows of deleted streams. It returns nil when nothing is left.
// A block that sorts wholly before what every other input has left (its
// index's bounds say so) is copied as it is, without decoding: parts
// written from disjoint time slices (bulk loads of files in time order)
// merge at the cost of copying their bytes.
func (db *DB) mergeParts(gid uint64, ps []*part, live map[uint64]bool, full bool) (*part, error) {
	var cs []*mergeCur
	// decode opens c's current block.
	decode := func(c *mergeCur) error {
		need := ColTokens | ColIngestion // token values are copied, not re-parsed
		if c.bi.shape == 0 {
			need = ColMessage | ColIngestion
		}
		d, err := c.p.readBlock(c.bi, need)
		if err != nil {
			return err
		}
		c.d, c.i = d, 0
		return nil
	}
	// Copies keep every row of a block: only when no input holds a
	// deleted stream's rows.
	copyOK := true
	for _, p := range ps {
		if p.rows == 0 {
			continue
		}
		c := &mergeCur{p: p}
		c.next()
		if c.bi != nil {
			cs = append(cs, c)
		}
		for sid := range p.stats {
			if !live[sid] {
				copyOK = false
			}
		}
	}
	pw, id, err := db.newPart(true)
	if err != nil {
		return nil, err
	}
	day := ps[0].day
	// Merges drop only deleted streams, so the live streams' statistics
	// are the sum of the inputs'.
	pw.fixedStats = true
	for _, p := range ps {
		for sid, st := range p.stats {
			if live[sid] {
				cur := pw.stats[sid]
				cur.add(st)
				pw.stats[sid] = cur
			}
		}
	}
	buf := make([]row, 0, db.opts.BlockRows)
	var src []srcRef
	shape := -1
	rows := 0
	var jobs []blockJob
	emit := func() {
		if len(buf) > 0 {
			jobs = append(jobs, blockJob{rows: buf, shape: shape, src: src})
			rows += len(buf)
			buf = make([]row, 0, db.opts.BlockRows)
			src = nil
		}
		if len(jobs) >= 2*runtime.GOMAXPROCS(0) {
			pw.addBlocks(jobs)
			jobs = nil
		}
	}
	abort := func(err error) (*part, error) {
		pw.f.Close()
		db.fs.Remove(db.partPath(id))
		return nil, err
	}
	h := &curHeap{cs: cs}
	heap.Init(h)
	for n := 0; h.Len() > 0; n++ {
		if n&0xffff == 0 && !full {
			select {
			case <-db.quit:
				return abort(errMergeAborted)
			default:
			}
		}
		c := h.cs[0]
		if c.d == nil {
			// A block not opened yet, first by its lower bound.
			if copyOK && c.bi.msgBytes >= 0 && h.beforeOthers(blockUpper(c.bi)) {
				eb, err := c.p.readRawBlock(c.bi)
				if err != nil {
					return abort(err)
				}
				emit()
				db.copiedBlocks.Add(1)
				jobs = append(jobs, blockJob{raw: eb})
				rows += c.bi.rows
				shape = c.bi.shape
				emit()
				if c.next(); c.bi == nil {
					heap.Pop(h)
				} else {
					heap.Fix(h, 0)
				}
				continue
			}
			if err := decode(c); err != nil {
				return abort(err)
			}
			heap.Fix(h, 0)
			continue
		}
		d, i := c.d, c.i
		if live[d.sid[i]] {
			if c.bi.shape != shape || len(buf) >= db.opts.BlockRows {
				emit()
				shape = c.bi.shape
			}
			r := row{ts: d.ts[i], seq: d.seq[i], ingest: d.ingest[i], sid: d.sid[i]}
			if shape == 0 {
				r.msg = d.msgs[i]
			} else {
				if src == nil {
					src = make([]srcRef, 0, db.opts.BlockRows)
				}
				src = append(src, srcRef{d, int32(i)})
			}
			buf = append(buf, r)
		}
		c.i++
		if c.i == d.rows {
			if c.next(); c.bi == nil {
				heap.Pop(h)
				continue
			}
		}
		heap.Fix(h, 0)
	}
	emit()
	pw.addBlocks(jobs)
	if rows == 0 {
		return abort(nil)
	}
	return db.finishPart(pw, id, gid, day)
}

// errMergeAborted: Close interrupted a background merge; its inputs stay.
var errMergeAborted = errors.New("merge aborted by Close")

// mergeCur is one input of a merge: a part and its current block, decoded
// (d) once its rows are needed.
type mergeCur struct {
	p  *part
	b  int // index of bi
	bi *blockIndex
	d  *blockData
	i  int
}

// next moves to the next block, not decoded; bi is nil at the end.
func (c *mergeCur) next() {
	c.d, c.i = nil, 0
	if c.bi != nil {
		c.b++
	}
	if c.b < len(c.p.blocks) {
		c.bi = &c.p.blocks[c.b]
	} else {
		c.bi = nil
	}
}

// mergeKey is a row's place in a part: (shape, slice, stream, timestamp,
// seq).
type mergeKey struct {
	sh    int
	slice int64
	sid   uint64
	ts    int64
	seq   uint64
}

func (a *mergeKey) less(b *mergeKey) bool {
	switch {
	case a.sh != b.sh:
		return a.sh < b.sh
	case a.slice != b.slice:
		return a.slice < b.slice
	case a.sid != b.sid:
		return a.sid < b.sid
	case a.ts != b.ts:
		return a.ts < b.ts
	}
	return a.seq < b.seq
}

// key is the current row's key, or for a block not decoded a bound below
// all of its rows.
func (c *mergeCur) key() mergeKey {
	if c.d == nil {
		bi := c.bi
		return mergeKey{bi.shape, floorDiv(bi.minTs, bucketMs), bi.minSid, bi.minTs, bi.minSeq}
	}
	d, i := c.d, c.i
	return mergeKey{c.bi.shape, floorDiv(d.ts[i], bucketMs), d.sid[i], d.ts[i], d.seq[i]}
}

// blockUpper is a bound above all of a block's rows.
func blockUpper(bi *blockIndex) mergeKey {
	return mergeKey{bi.shape, floorDiv(bi.maxTs, bucketMs), bi.maxSid, bi.maxTs, bi.maxSeq}
}

type curHeap struct {
	cs []*mergeCur
}

func (h *curHeap) Len() int { return len(h.cs) }
func (h *curHeap) Less(i, j int) bool {
	a, b := h.cs[i].key(), h.cs[j].key()
	return a.less(&b)
}

// beforeOthers reports whether k sorts before every input but the top's.
func (h *curHeap) beforeOthers(k mergeKey) bool {
	for j := 1; j <= 2 && j < len(h.cs); j++ {
		if o := h.cs[j].key(); !k.less(&o) {
			return false
		}
	}
	return true
}
func (h *curHeap) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *curHeap) Push(x any)    { h.cs = append(h.cs, x.(*mergeCur)) }
func (h *curHeap) Pop() any {
	x := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return x
}

// Close flushes everything and closes the store.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.mu.Unlock()
	close(db.quit)
	db.bg.Wait()
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	db.mergeMu.Lock()
	defer db.mergeMu.Unlock()
	var err error
	db.mu.RLock()
	failed := db.failed
	db.mu.RUnlock()
	if failed == nil {
		err = db.flush()
	}
	if werr := db.wal.close(); err == nil && failed == nil && werr != nil && !errors.Is(werr, ErrClosed) {
		err = werr
	}
	db.releaseParts()
	db.lock.Close()
	if err == nil {
		err = failed
	}
	return err
}

func (db *DB) releaseParts() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, g := range db.groupsByID {
		for _, p := range g.parts {
			p.unref()
		}
		g.parts = nil
	}
	for _, p := range db.obsolete {
		p.obsolete.Store(false) // not yet unlisted in META: keep the file
		p.unref()
	}
	db.obsolete = nil
}
