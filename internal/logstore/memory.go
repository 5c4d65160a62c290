package logstore

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"
)

// NewMemory returns a Store that keeps everything in memory. It is the
// obviously-correct model the durable DB is tested against, and a fake for
// packages that need a Store in their tests. Durability claims are void.
func NewMemory() Store { return newMemory(func() int64 { return time.Now().UnixMilli() }) }

// NewMemoryClock is NewMemory with a clock (epoch ms) for retention, so
// tests can move time.
func NewMemoryClock(now func() int64) Store { return newMemory(now) }

func newMemory(now func() int64) *memStore {
	return &memStore{now: now, groups: map[string]*memGroup{}}
}

type memStore struct {
	mu     sync.RWMutex
	now    func() int64
	closed bool
	seq    uint64 // last Seq handed out, store-wide so it is never reused
	groups map[string]*memGroup
}

type memGroup struct {
	meta    GroupMeta
	streams map[string]*memStream
	events  []StoredEvent // in (Timestamp, Seq) order
}

type memStream struct {
	Stream
}

func copyMeta(m GroupMeta) GroupMeta {
	if m.Tags != nil {
		m.Tags = maps.Clone(m.Tags)
	}
	return m
}

func (m *memStore) CreateGroup(name string, meta GroupMeta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.groups[name]; ok {
		return ErrGroupExists
	}
	m.groups[name] = &memGroup{meta: copyMeta(meta), streams: map[string]*memStream{}}
	return nil
}

func (m *memStore) DeleteGroup(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.groups[name]; !ok {
		return ErrGroupNotFound
	}
	delete(m.groups, name)
	return nil
}

func (m *memStore) UpdateGroup(name string, fn func(*GroupMeta) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	g, ok := m.groups[name]
	if !ok {
		return ErrGroupNotFound
	}
	meta := copyMeta(g.meta)
	if err := fn(&meta); err != nil {
		return err
	}
	g.meta = copyMeta(meta)
	return nil
}

func (m *memStore) groupInfo(name string, g *memGroup) Group {
	out := Group{Name: name, GroupMeta: copyMeta(g.meta)}
	for _, s := range g.streams {
		out.StoredBytes += s.StoredBytes
	}
	return out
}

func (m *memStore) Group(name string) (Group, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Group{}, ErrClosed
	}
	g, ok := m.groups[name]
	if !ok {
		return Group{}, ErrGroupNotFound
	}
	return m.groupInfo(name, g), nil
}

func (m *memStore) Groups() []Group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Group, 0, len(m.groups))
	for name, g := range m.groups {
		out = append(out, m.groupInfo(name, g))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *memStore) CreateStream(group, stream string, creationTime int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	g, ok := m.groups[group]
	if !ok {
		return ErrGroupNotFound
	}
	if _, ok := g.streams[stream]; ok {
		return ErrStreamExists
	}
	g.streams[stream] = &memStream{Stream{Name: stream, CreationTime: creationTime}}
	return nil
}

func (m *memStore) DeleteStream(group, stream string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	g, ok := m.groups[group]
	if !ok {
		return ErrGroupNotFound
	}
	if _, ok := g.streams[stream]; !ok {
		return ErrStreamNotFound
	}
	delete(g.streams, stream)
	kept := g.events[:0]
	for _, e := range g.events {
		if e.Stream != stream {
			kept = append(kept, e)
		}
	}
	g.events = kept
	return nil
}

func (m *memStore) Streams(group string) ([]Stream, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	g, ok := m.groups[group]
	if !ok {
		return nil, ErrGroupNotFound
	}
	out := make([]Stream, 0, len(g.streams))
	for _, s := range g.streams {
		out = append(out, s.Stream)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memStore) Append(group, stream string, ingestionTime int64, events []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	g, ok := m.groups[group]
	if !ok {
		return ErrGroupNotFound
	}
	s, ok := g.streams[stream]
	if !ok {
		return ErrStreamNotFound
	}
	for _, e := range events {
		m.seq++
		g.events = append(g.events, StoredEvent{Stream: stream, Timestamp: e.Timestamp,
			IngestionTime: ingestionTime, Seq: m.seq, Message: e.Message})
		s.observe(e.Timestamp, ingestionTime, len(e.Message))
	}
	// Keep the (Timestamp, Seq) order; a stable sort of a mostly sorted
	// slice is cheap enough for a model.
	sort.SliceStable(g.events, func(i, j int) bool {
		return g.events[i].cursor().Less(g.events[j].cursor())
	})
	return nil
}

func (s *Stream) observe(ts, ingest int64, size int) {
	if !s.HasEvents {
		s.HasEvents = true
		s.FirstEventTimestamp, s.LastEventTimestamp = ts, ts
	}
	s.FirstEventTimestamp = min(s.FirstEventTimestamp, ts)
	s.LastEventTimestamp = max(s.LastEventTimestamp, ts)
	s.LastIngestionTime = max(s.LastIngestionTime, ingest)
	s.StoredBytes += int64(size)
}

func (e *StoredEvent) cursor() Cursor { return Cursor{e.Timestamp, e.Seq} }

// sliceIter walks candidates of a sorted slice in either direction.
type sliceIter struct {
	ev       []StoredEvent
	i        int
	backward bool
	keep     func(*StoredEvent) bool
}

func (it *sliceIter) next() (StoredEvent, bool, error) {
	for it.i >= 0 && it.i < len(it.ev) {
		e := &it.ev[it.i]
		if it.backward {
			it.i--
		} else {
			it.i++
		}
		if it.keep(e) {
			return *e, true, nil
		}
	}
	return StoredEvent{}, false, nil
}

func (m *memStore) Events(ctx context.Context, q EventQuery) ([]StoredEvent, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	g, ok := m.groups[q.Group]
	if !ok {
		return nil, false, ErrGroupNotFound
	}
	lo, hi, backward, empty := q.bounds(retentionCutoff(g.meta.RetentionDays, m.now()))
	if empty {
		return nil, false, nil
	}
	sf := newStreamFilter(q.Streams, q.StreamPrefix)
	it := &sliceIter{ev: g.events, backward: backward, keep: func(e *StoredEvent) bool {
		c := e.cursor()
		return !c.Less(lo) && !hi.Less(c) && sf.ok(e.Stream)
	}}
	if backward {
		it.i = len(g.events) - 1
	}
	return page(ctx, it, &q, backward)
}

// memScanBlock is the row count of the model's Scan blocks: small, so that
// tests see several blocks.
const memScanBlock = 1000

func (m *memStore) Scan(ctx context.Context, q ScanQuery, fn func(*Block) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	g, ok := m.groups[q.Group]
	if !ok {
		m.mu.RUnlock()
		return ErrGroupNotFound
	}
	cutoff := retentionCutoff(g.meta.RetentionDays, m.now())
	sf := newStreamFilter(q.Streams, q.StreamPrefix)
	var rows []StoredEvent
	for _, e := range g.events {
		if e.Timestamp >= q.Start && e.Timestamp < q.End && e.Timestamp >= cutoff && sf.ok(e.Stream) {
			rows = append(rows, e)
		}
	}
	m.mu.RUnlock()
	for len(rows) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(rows), memScanBlock)
		if err := fn(NewBlock(rows[:n])); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (m *memStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
