package logstore

import (
	"container/heap"
	"context"

	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// readView is what a read needs from the shared state, taken under the
// read lock: the selected live streams, copies of matching memtable rows,
// and referenced parts.
type readView struct {
	names  map[uint64]string // selected stream ids
	sids   []uint64          // the same, sorted
	mem    []row
	parts  []*part
	cutoff int64
}

func (v *readView) release() {
	for _, p := range v.parts {
		p.unref()
	}
}

// anySid reports whether a selected stream id lies in [lo, hi].
func (v *readView) anySid(lo, hi uint64) bool {
	i := sort.Search(len(v.sids), func(i int) bool { return v.sids[i] >= lo })
	return i < len(v.sids) && v.sids[i] <= hi
}

// view selects streams and copies memtable rows with timestamps in
// [tsLo, tsHi]; keep, when not nil, filters rows further.
func (db *DB) view(group string, streams []string, prefix string, bounds func(cutoff int64) (tsLo, tsHi int64, ok bool), keep func(*row) bool) (*readView, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	g, ok := db.groups[group]
	if !ok {
		return nil, ErrGroupNotFound
	}
	v := &readView{names: map[uint64]string{}, cutoff: retentionCutoff(g.meta.RetentionDays, db.opts.Now().UnixMilli())}
	tsLo, tsHi, ok := bounds(v.cutoff)
	if !ok {
		return v, nil
	}
	sf := newStreamFilter(streams, prefix)
	for sid, s := range g.byID {
		if sf.ok(s.name) {
			v.names[sid] = s.name
			v.sids = append(v.sids, sid)
		}
	}
	if len(v.sids) == 0 {
		return v, nil
	}
	slices.Sort(v.sids)
	for _, m := range []*memtable{db.imm, db.mem} {
		if m == nil {
			continue
		}
		for i := range m.groups[g.id] {
			r := &m.groups[g.id][i]
			if r.ts < tsLo || r.ts > tsHi {
				continue
			}
			if _, ok := v.names[r.sid]; ok && (keep == nil || keep(r)) {
				v.mem = append(v.mem, *r)
			}
		}
	}
	for _, p := range g.parts {
		if p.maxTs >= tsLo && p.minTs <= tsHi {
			p.ref()
			v.parts = append(v.parts, p)
		}
	}
	return v, nil
}

// Events implements Reader.
func (db *DB) Events(ctx context.Context, q EventQuery) ([]StoredEvent, bool, error) {
	var lo, hi Cursor
	var backward, empty bool
	v, err := db.view(q.Group, q.Streams, q.StreamPrefix, func(cutoff int64) (int64, int64, bool) {
		lo, hi, backward, empty = q.bounds(cutoff)
		return lo.Timestamp, hi.Timestamp, !empty
	}, func(r *row) bool {
		c := Cursor{r.ts, r.seq}
		return !c.Less(lo) && !hi.Less(c)
	})
	if err != nil {
		return nil, false, err
	}
	defer v.release()
	if empty || len(v.sids) == 0 {
		return nil, false, nil
	}
	it := &mergeIter{v: v, lo: lo, hi: hi, backward: backward}
	// Memtable rows are in append order, where each batch of a stream is
	// a run already in (timestamp, seq) order (PutLogEvents batches are
	// chronological): merge the runs rather than sort the memtable on
	// every page.
	for start := 0; start < len(v.mem); {
		end := start + 1
		for end < len(v.mem) && v.mem[end].sid == v.mem[end-1].sid &&
			(Cursor{v.mem[end-1].ts, v.mem[end-1].seq}).Less(Cursor{v.mem[end].ts, v.mem[end].seq}) {
			end++
		}
		run := v.mem[start:end:end]
		if backward {
			slices.Reverse(run)
		}
		it.h = append(it.h, &head{mem: run})
		start = end
	}
	for _, p := range v.parts {
		for i := range p.blocks {
			bi := &p.blocks[i]
			if bi.maxTs < lo.Timestamp || bi.minTs > hi.Timestamp || !v.anySid(bi.minSid, bi.maxSid) {
				continue
			}
			it.pending = append(it.pending, pendingBlock{p: p, bi: bi})
		}
	}
	// Blocks open in the order their first row could come up.
	sort.Slice(it.pending, func(i, j int) bool {
		if backward {
			return it.pending[i].bi.maxTs > it.pending[j].bi.maxTs
		}
		return it.pending[i].bi.minTs < it.pending[j].bi.minTs
	})
	heap.Init(it)
	return page(ctx, it, &q, backward)
}

type pendingBlock struct {
	p  *part
	bi *blockIndex
}

// head is one ordered source of a merge: memtable rows, or the selected
// rows of a decoded block (idx, in reading order).
type head struct {
	mem []row
	b   *openBlock
	idx []int32
	pos int
}

// openBlock is a decoded block shared by the heads of its stream runs.
// Token columns are decoded when a first row is read, and messages built
// per row, since a page often needs few rows of a block.
type openBlock struct {
	p    *part
	bi   *blockIndex
	d    *blockData
	toks bool
	buf  []byte
}

func (b *openBlock) message(i int) (string, error) {
	if !b.toks {
		d, err := b.p.readBlock(b.bi, ColTokens|ColMessage*boolCol(b.bi.shape == 0))
		if err != nil {
			return "", err
		}
		b.d.toks, b.d.msgs, b.toks = d.toks, d.msgs, true
	}
	if b.d.msgs != nil {
		return b.d.msgs[i], nil
	}
	buf := b.buf[:0]
	for c := range b.d.toks {
		if c > 0 {
			buf = append(buf, ' ')
		}
		buf = b.d.toks[c].appendToken(buf, i)
	}
	b.buf = buf
	return string(buf), nil
}

func boolCol(b bool) Columns {
	if b {
		return 1
	}
	return 0
}

func (h *head) cursor() Cursor {
	if h.mem != nil {
		return Cursor{h.mem[h.pos].ts, h.mem[h.pos].seq}
	}
	i := h.idx[h.pos]
	return Cursor{h.b.d.ts[i], h.b.d.seq[i]}
}

func (h *head) len() int {
	if h.mem != nil {
		return len(h.mem)
	}
	return len(h.idx)
}

// mergeIter merges heads in reading order, opening blocks lazily.
type mergeIter struct {
	v        *readView
	lo, hi   Cursor
	backward bool
	h        []*head
	pending  []pendingBlock
	next_    int
}

func (m *mergeIter) Len() int { return len(m.h) }
func (m *mergeIter) Less(i, j int) bool {
	if m.backward {
		return m.h[j].cursor().Less(m.h[i].cursor())
	}
	return m.h[i].cursor().Less(m.h[j].cursor())
}
func (m *mergeIter) Swap(i, j int) { m.h[i], m.h[j] = m.h[j], m.h[i] }
func (m *mergeIter) Push(x any)    { m.h = append(m.h, x.(*head)) }
func (m *mergeIter) Pop() any {
	x := m.h[len(m.h)-1]
	m.h = m.h[:len(m.h)-1]
	return x
}

// open decodes a block's timestamps, seq and stream ids and returns one
// head per run of rows already in (timestamp, seq) order: parts keep each
// stream's rows of a time slice sorted, so no sort is needed.
func (m *mergeIter) open(pb pendingBlock) ([]*head, error) {
	d, err := pb.p.readBlock(pb.bi, ColIngestion)
	if err != nil {
		return nil, err
	}
	b := &openBlock{p: pb.p, bi: pb.bi, d: d}
	var heads []*head
	var cur *head
	var prev Cursor
	for i := 0; i < d.rows; i++ {
		c := Cursor{d.ts[i], d.seq[i]}
		if cur != nil && (d.sid[i] != d.sid[i-1] || !prev.Less(c)) {
			cur = nil // a new run
		}
		prev = c
		if _, ok := m.v.names[d.sid[i]]; !ok || d.ts[i] < m.v.cutoff || c.Less(m.lo) || m.hi.Less(c) {
			if cur != nil && len(cur.idx) > 0 {
				cur = nil // keep runs contiguous so reversing them stays ordered
			}
			continue
		}
		if cur == nil {
			cur = &head{b: b}
			heads = append(heads, cur)
		}
		cur.idx = append(cur.idx, int32(i))
	}
	if m.backward {
		for _, h := range heads {
			slices.Reverse(h.idx)
		}
	}
	return heads, nil
}

func (m *mergeIter) next() (StoredEvent, bool, error) {
	for m.next_ < len(m.pending) {
		pb := m.pending[m.next_]
		if len(m.h) > 0 {
			top := m.h[0].cursor().Timestamp
			if !m.backward && pb.bi.minTs > top || m.backward && pb.bi.maxTs < top {
				break
			}
		}
		m.next_++
		hs, err := m.open(pb)
		if err != nil {
			return StoredEvent{}, false, err
		}
		for _, h := range hs {
			heap.Push(m, h)
		}
	}
	if len(m.h) == 0 {
		return StoredEvent{}, false, nil
	}
	h := m.h[0]
	var e StoredEvent
	if h.mem != nil {
		r := &h.mem[h.pos]
		e = StoredEvent{Stream: m.v.names[r.sid], Timestamp: r.ts, IngestionTime: r.ingest, Seq: r.seq, Message: r.msg}
	} else {
		i := h.idx[h.pos]
		msg, err := h.b.message(int(i))
		if err != nil {
			return StoredEvent{}, false, err
		}
		d := h.b.d
		e = StoredEvent{Stream: m.v.names[d.sid[i]], Timestamp: d.ts[i], IngestionTime: d.ingest[i], Seq: d.seq[i], Message: msg}
	}
	h.pos++
	if h.pos == h.len() {
		heap.Pop(m)
	} else {
		heap.Fix(m, 0)
	}
	return e, true, nil
}

// Scan implements Reader: blocks are decoded and handed to fn by
// GOMAXPROCS workers.
func (db *DB) Scan(ctx context.Context, q ScanQuery, fn func(*Block) error) error {
	var tsLo, tsHi int64
	v, err := db.view(q.Group, q.Streams, q.StreamPrefix, func(cutoff int64) (int64, int64, bool) {
		tsLo, tsHi = max(q.Start, cutoff), q.End-1
		return tsLo, tsHi, q.End > tsLo
	}, nil)
	if err != nil {
		return err
	}
	defer v.release()
	if len(v.sids) == 0 || q.End <= tsLo {
		return nil
	}
	type task struct {
		p     *part
		bi    *blockIndex
		mem   []StoredEvent
		noSid bool // every stream of the part is selected: no need for stream ids
	}
	var tasks []task
	// Memtable rows become blocks of one shape each, so token columns
	// line up.
	if len(v.mem) > 0 {
		byShape := map[int][]StoredEvent{}
		for _, r := range v.mem {
			sh := int(r.shape)
			byShape[sh] = append(byShape[sh], StoredEvent{Stream: v.names[r.sid], Timestamp: r.ts, IngestionTime: r.ingest, Seq: r.seq, Message: r.msg})
		}
		for _, evs := range byShape {
			for len(evs) > 0 {
				n := min(len(evs), db.opts.BlockRows)
				tasks = append(tasks, task{mem: evs[:n]})
				evs = evs[n:]
			}
		}
	}
	for _, p := range v.parts {
		noSid := q.Need&ColStream == 0
		for sid := range p.stats {
			if _, ok := v.names[sid]; !ok {
				noSid = false
				break
			}
		}
		for i := range p.blocks {
			bi := &p.blocks[i]
			if bi.maxTs < tsLo || bi.minTs > tsHi || !v.anySid(bi.minSid, bi.maxSid) || !blockMayMatch(bi, q.Preds) {
				continue
			}
			tasks = append(tasks, task{p: p, bi: bi, noSid: noSid})
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan task)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	stop := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel(err) })
	}
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(tasks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if ctx.Err() != nil {
					continue
				}
				var b *Block
				if t.mem != nil {
					b = NewBlock(t.mem)
				} else {
					need := q.Need
					if !t.noSid || t.bi.minTs < tsLo || t.bi.maxTs > tsHi {
						// Rows are filtered: by their timestamps (and stream ids).
						need |= ColTimestamps
					}
					proj := projection(&q, t.bi.shape)
					d, err := t.p.readBlockCols(t.bi, need, proj, t.noSid)
					if err == nil && proj != nil && d.toks != nil {
						err = t.p.decodeDicts(t.bi, d, q.DictCols[t.bi.shape])
					}
					if err == nil {
						b, err = v.block(t.p, t.bi, d, tsLo, tsHi, q.Need)
					}
					if err != nil {
						stop(err)
						continue
					}
				}
				if b.Len == 0 {
					continue
				}
				if err := fn(b); err != nil {
					stop(err)
				}
			}
		}()
	}
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		work <- t
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// block turns decoded rows into a Block, keeping rows of selected streams
// inside [tsLo, tsHi]. Token columns d left KindSkipped stay so, and
// Block.DecodeTokens decodes them from block bi of part p.
func (v *readView) block(p *part, bi *blockIndex, d *blockData, tsLo, tsHi int64, need Columns) (*Block, error) {
	// d.sid is nil when every stream of the part is selected.
	var keep []int32
	all := true
	if d.sid != nil || bi.minTs < tsLo || bi.maxTs > tsHi {
		var prevSid uint64
		prevOK := false
		for i := 0; i < d.rows; i++ {
			ok := true
			if d.sid != nil {
				// Rows of a stream come in runs: one lookup per run.
				if sid := d.sid[i]; i == 0 || sid != prevSid {
					_, prevOK = v.names[sid]
					prevSid = sid
				}
				ok = prevOK
			}
			if ok && d.ts[i] >= tsLo && d.ts[i] <= tsHi {
				keep = append(keep, int32(i))
			} else {
				all = false
			}
		}
	}
	if all {
		keep = nil
	}
	b := &Block{Len: d.rows}
	if !all {
		b.Len = len(keep)
	}
	if need&ColTimestamps != 0 {
		b.Timestamps = pick(d.ts, keep)
	}
	b.Seq = pick(d.seq, keep)
	if need&ColIngestion != 0 {
		b.IngestionTime = pick(d.ingest, keep)
	}
	if need&ColMessage != 0 || need&ColMessageIfNoTokens != 0 && d.toks == nil {
		b.Messages = pick(d.msgs, keep)
	}
	if need&(ColMessage|ColMessageIfNoTokens|ColTokens|ColMessageBytes) != 0 {
		if keep == nil && bi.msgBytes >= 0 {
			b.MessageBytes = bi.msgBytes
		} else {
			if d.toks != nil {
				// Older parts, or some rows left out: count the
				// rows' tokens, all of them.
				if err := p.decodeTokenCols(bi, d, skippedCols(d.toks)); err != nil {
					return nil, err
				}
			}
			b.MessageBytes = messageBytes(d, keep)
		}
	}
	if need&ColStream != 0 {
		ids := map[uint64]uint32{}
		sids := pick(d.sid, keep)
		b.StreamIdx = make([]uint32, len(sids))
		for i, sid := range sids {
			id, ok := ids[sid]
			if !ok {
				id = uint32(len(b.StreamNames))
				ids[sid] = id
				b.StreamNames = append(b.StreamNames, v.names[sid])
			}
			b.StreamIdx[i] = id
		}
	}
	if need&(ColTokens|ColMessageIfNoTokens) != 0 && d.toks != nil {
		b.Tokens = make([]TokenColumn, len(d.toks))
		setCols := func(cols []int) {
			for _, c := range cols {
				t := d.toks[c]
				if t.Kind == KindSkipped {
					b.Tokens[c] = t
					continue
				}
				t.Codes = pick(t.Codes, keep)
				t.Ints = pick(t.Ints, keep)
				t.IPs = pick(t.IPs, keep)
				t.Null = pick(t.Null, keep)
				t.Is6 = pick(t.Is6, keep)
				t.IP6 = pick(t.IP6, keep)
				if need&ColIP == 0 {
					t = compatColumn(t, b.Len)
				}
				b.Tokens[c] = t
			}
		}
		setCols(allCols(len(d.toks)))
		if skipped := skippedCols(d.toks); skipped != nil {
			b.fill = func(b *Block) error {
				if err := p.decodeTokenCols(bi, d, skipped); err != nil {
					return err
				}
				setCols(skipped)
				return nil
			}
		}
	}
	return b, nil
}

func allCols(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func pick[T any](s []T, keep []int32) []T {
	if keep == nil || s == nil {
		return s
	}
	out := make([]T, len(keep))
	for i, k := range keep {
		out[i] = s[k]
	}
	return out
}

// blockMayMatch reports whether a block can hold rows satisfying every
// predicate; it answers true whenever it cannot tell.
func blockMayMatch(bi *blockIndex, preds []TokenPred) bool {
	for _, pr := range preds {
		if bi.shape != pr.Count {
			if pr.RequireShape {
				return false
			}
			continue
		}
		if pr.Col < 0 || pr.Col >= len(bi.toks) {
			continue
		}
		if !tokenMayMatch(&bi.toks[pr.Col], pr) {
			return false
		}
	}
	return true
}

func tokenMayMatch(t *tokenStats, pr TokenPred) bool {
	noValues := t.min > t.max // only "-" rows
	if pr.Str == "-" && t.kind != KindString {
		if pr.Op == OpEq {
			return t.hasNull
		}
		return true
	}
	switch t.kind {
	case KindIP:
		if pr.Op != OpEq {
			return true
		}
		if ip, ok := ParseCanonicalIPv4(pr.Str); ok {
			v := int64(ip)
			return v >= t.min && v <= t.max && bloomHas(t.bloom, hashInt(v))
		}
		if a, ok := parseCanonicalIPv6(pr.Str); ok {
			return bloomHas(t.bloom, hashIP6(&a))
		}
		return true
	case KindInt, KindIPv4:
		var v int64
		if t.kind == KindInt {
			x, err := strconv.ParseInt(pr.Str, 10, 64)
			if err != nil {
				return true
			}
			v = x
		} else {
			ip, ok := ParseCanonicalIPv4(pr.Str)
			if !ok {
				return true
			}
			v = int64(ip)
		}
		switch pr.Op {
		case OpEq:
			return !noValues && v >= t.min && v <= t.max && bloomHas(t.bloom, hashInt(v))
		case OpNe:
			return t.hasNull || noValues || t.min != v || t.max != v
		}
		if t.hasNull || t.kind != KindInt {
			return true // how "-" and addresses order is the engine's business
		}
		if noValues {
			return false
		}
		switch pr.Op {
		case OpLt:
			return t.min < v
		case OpLe:
			return t.min <= v
		case OpGt:
			return t.max > v
		case OpGe:
			return t.max >= v
		}
		return true
	default:
		if pr.Op == OpEq {
			return bloomHas(t.bloom, hashString(pr.Str))
		}
		return true
	}
}

// messageBytes is Σ len(message) of a decoded block's rows (keep: the rows
// kept, nil for all), from the messages when decoded, else from the token
// columns without building text.
func messageBytes(d *blockData, keep []int32) int64 {
	var n int64
	if d.msgs != nil {
		if keep == nil {
			for _, m := range d.msgs {
				n += int64(len(m))
			}
			return n
		}
		for _, i := range keep {
			n += int64(len(d.msgs[i]))
		}
		return n
	}
	if d.toks == nil {
		return 0
	}
	rows := d.rows
	if keep != nil {
		rows = len(keep)
	}
	n = int64(rows) * int64(len(d.toks)-1) // the separating spaces
	for c := range d.toks {
		n += d.toks[c].textBytes(keep, d.rows)
	}
	return n
}
