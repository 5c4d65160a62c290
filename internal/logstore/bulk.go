package logstore

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// Bulk loads (flowwatch import) bypass the WAL and the memtable. Callers
// fill numbered batches of records in parallel; the load keeps them sorted
// by the parts' row order in memory and, when its budget is used, writes
// the time slices that are complete (older than the newest batch's) as
// parts in their final form. Historical files are mostly in time order, so
// those parts do not overlap and the final Compact copies their blocks
// instead of decoding and re-encoding every row (see mergeParts). Rows of
// out-of-order input only make parts overlap, which Compact then merges.

// BulkBudget is the default memory a bulk load buffers before it writes.
const BulkBudget = 256 << 20

// BulkLoad is one bulk load into one log group. NewBatch, Batch.Add and
// Commit are safe for concurrent use; Finish is called once at the end.
type BulkLoad struct {
	db     *DB
	gid    uint64
	group  string
	ingest int64
	budget int

	mu       sync.Mutex
	cond     *sync.Cond
	streams  map[string]uint64
	waiting  map[uint64]*BulkBatch // committed out of order
	next     uint64                // number of the next batch to take in
	pending  map[bulkKey]*bulkGroup
	pendingB int  // bytes of batches with rows in pending
	spilling bool // a spill is writing
	err      error
	records  int64
	lastMin  int64 // smallest slice of the last batch taken in
	// open is each day's part being written, one per shape (keys are
	// ordered by shape first): a write appends to it while its keys follow
	// the part's last, so input in time order makes one part per day and
	// shape, which Finish installs. Used by one write at a time.
	open map[dayShape]*openDay

	// Batches and buffers whose rows were written, for reuse: a load
	// cycles through the same few hundred MB instead of allocating (and
	// collecting) gigabytes.
	freeMu    sync.Mutex
	free      []*BulkBatch
	freeTexts [][]byte
	freeRecs  [][]bulkRec
}

// BulkChunk is the size of text buffers NewBatch hands out.
const BulkChunk = 4 << 20

func (l *BulkLoad) text(n int) []byte {
	l.freeMu.Lock()
	defer l.freeMu.Unlock()
	return reuse(&l.freeTexts, n, BulkChunk)
}

func (l *BulkLoad) recsBuf(n int) []bulkRec {
	l.freeMu.Lock()
	defer l.freeMu.Unlock()
	return reuse(&l.freeRecs, n, BulkChunk/64)
}

// reuse takes from free the last buffer that holds n, emptied, or makes
// one for max(n, least).
func reuse[T any](free *[][]T, n, least int) []T {
	for i := len(*free) - 1; i >= 0; i-- {
		if b := (*free)[i]; cap(b) >= n {
			*free = slices.Delete(*free, i, i+1)
			return b[:0]
		}
	}
	return make([]T, 0, max(n, least))
}

func (l *BulkLoad) release(t []byte, r []bulkRec) {
	l.freeMu.Lock()
	defer l.freeMu.Unlock()
	if cap(t) > 0 {
		l.freeTexts = append(l.freeTexts, t[:0])
	}
	if cap(r) > 0 {
		l.freeRecs = append(l.freeRecs, r[:0])
	}
}

// bulkKey is a group of rows that parts keep together: one shape, one
// time slice (absolute, so it also gives the day), one stream.
type bulkKey struct {
	slice int64
	sid   uint64
	shape uint8
}

func (a bulkKey) cmp(b bulkKey) int {
	da, db := floorDiv(a.slice, dayMs/bucketMs), floorDiv(b.slice, dayMs/bucketMs)
	switch {
	case da != db:
		return cmpInt(da, db)
	case a.shape != b.shape:
		return cmpInt(int64(a.shape), int64(b.shape))
	case a.slice != b.slice:
		return cmpInt(a.slice, b.slice)
	}
	return cmpUint(a.sid, b.sid)
}

// bulkGroup is a key's rows: runs of batches, in batch order.
type bulkGroup struct {
	key  bulkKey
	segs []bulkSeg
}

type bulkSeg struct {
	b      *BulkBatch
	lo, hi int32
}

// batchStream is a stream's entry in a batch: its id and how many of the
// batch's records it has.
type batchStream struct {
	sid uint64
	n   uint32
}

// bulkRec is one record of a batch: its message is text[off:off+n].
type bulkRec struct {
	ts    int64
	sid   uint64
	off   uint32
	n     uint32
	rank  uint32 // among the batch's records of its stream, in input order
	shape uint8
}

// BulkBatch is a numbered piece of the input (a chunk of a file). Its
// messages are slices of Text, which the batch owns until its rows are
// written.
type BulkBatch struct {
	no   uint64
	load *BulkLoad
	// Text holds the messages Add is given offsets into; the caller fills
	// it (a file chunk) and keeps it unchanged after the first Add.
	Text  []byte
	recs  []bulkRec
	gidx  []int32
	cache map[string]*batchStream // stream names seen by this batch
	// lastName is the last record's stream and last its entry; lastName
	// points into Text, so it is forgotten when the batch is committed.
	lastName string
	last     *batchStream
	touched  []*batchStream    // streams with records in this batch
	seqBase  map[uint64]uint64 // stream id → seq of its first record here
	groups   []bulkSeg         // after sorting: one run per key
	keys     []bulkKey
	tabs     []keyTable
	refs     int // groups not yet written
}

// BeginBulk starts a bulk load into an existing group. Records get
// ingestion time ingest; budget (0: BulkBudget) bounds buffered bytes.
func (db *DB) BeginBulk(group string, ingest int64, budget int) (*BulkLoad, error) {
	db.mu.RLock()
	g, err := db.writableGroupLocked(group)
	var streams map[string]uint64
	if err == nil {
		streams = make(map[string]uint64, len(g.streams))
		for name, s := range g.streams {
			streams[name] = s.id
		}
	}
	db.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if budget <= 0 {
		budget = BulkBudget
	}
	l := &BulkLoad{db: db, gid: g.id, group: group, ingest: ingest, budget: budget,
		streams: streams, waiting: map[uint64]*BulkBatch{}, pending: map[bulkKey]*bulkGroup{},
		lastMin: math.MinInt64, open: map[dayShape]*openDay{}}
	l.cond = sync.NewCond(&l.mu)
	return l, nil
}

// NewBatch returns an empty batch numbered no. Batches are numbered 0, 1,
// 2… in input order: the load takes them in that order, so it knows which
// time slices later input can no longer reach.
func (l *BulkLoad) NewBatch(no uint64) *BulkBatch {
	var b *BulkBatch
	l.freeMu.Lock()
	if k := len(l.free); k > 0 {
		b = l.free[k-1]
		l.free = l.free[:k-1]
	}
	l.freeMu.Unlock()
	if b == nil {
		b = &BulkBatch{cache: map[string]*batchStream{}, seqBase: map[uint64]uint64{}}
	}
	b.no, b.load, b.lastName = no, l, ""
	b.Text = l.text(BulkChunk)
	b.recs = l.recsBuf(0)
	return b
}

// Grow makes room for n more bytes of Text, keeping its content.
func (b *BulkBatch) Grow(n int) {
	if cap(b.Text)-len(b.Text) >= n {
		return
	}
	t := b.load.text(len(b.Text) + n)
	t = append(t, b.Text...)
	b.load.release(b.Text, nil)
	b.Text = t
}

// Add appends a record whose message is Text[off:off+n], in stream,
// created with the load's ingestion time as its creation time if it does
// not exist. shape is Tokenize of the message, or -1 to have Add find it.
func (b *BulkBatch) Add(stream string, ts int64, off, n, shape int) error {
	st := b.last
	if stream != b.lastName || st == nil {
		// Flow records often come in runs of one interface; else a lookup.
		if st = b.cache[stream]; st == nil {
			stream = strings.Clone(stream) // it may point into a buffer that is reused
			sid, err := b.load.stream(stream)
			if err != nil {
				return err
			}
			st = &batchStream{sid: sid}
			b.cache[stream] = st
		}
		b.lastName, b.last = stream, st
	}
	if st.n == 0 {
		b.touched = append(b.touched, st)
	}
	rank := st.n
	st.n++
	if shape < 0 {
		shape = shapeOf(unsafe.String(unsafe.SliceData(b.Text[off:]), n))
	}
	b.recs = append(b.recs, bulkRec{ts: ts, sid: st.sid, off: uint32(off), n: uint32(n), rank: rank, shape: uint8(shape)})
	return nil
}

// Len is the number of records added.
func (b *BulkBatch) Len() int { return len(b.recs) }

func (l *BulkLoad) stream(name string) (uint64, error) {
	l.mu.Lock()
	sid, ok := l.streams[name]
	l.mu.Unlock()
	if ok {
		return sid, nil
	}
	db := l.db
	db.mu.Lock()
	g, err := db.writableGroupLocked(l.group)
	if err != nil {
		db.mu.Unlock()
		return 0, err
	}
	var wait func() error
	if s, ok := g.streams[name]; ok {
		sid = s.id
	} else {
		sid = db.nextStream
		db.applyCreateStream(g, sid, name, l.ingest)
		wait = db.logMetaLocked(walMeta{Op: "cs", GID: g.id, SID: sid, Name: name, Created: l.ingest})
	}
	db.mu.Unlock()
	if wait != nil {
		// Parts naming the stream are installed by a flush, whose
		// checkpoint includes it: no fsync needed here.
		if err := wait(); err != nil {
			return 0, err
		}
	}
	l.mu.Lock()
	l.streams[name] = sid
	l.mu.Unlock()
	return sid, nil
}

// sort orders the batch's records by key, then timestamp, keeping input
// order among equals, and notes each key's run. It runs on the caller's
// CPU, in parallel with other batches.
func (b *BulkBatch) sort() {
	b.lastName, b.last = "", nil
	n := len(b.recs)
	b.keys = b.keys[:0]
	if cap(b.gidx) < n {
		b.gidx = make([]int32, n)
	}
	gidx := b.gidx[:n]
	// Keys are numbered through a table per (slice, shape), indexed by
	// stream id (small integers), instead of hashing every record's key.
	var tab *keyTable
	var idx map[bulkKey]int32 // stream ids too large for a table
	for i := range b.recs {
		r := &b.recs[i]
		sl := floorDiv(r.ts, bucketMs)
		if tab == nil || tab.slice != sl || tab.shape != r.shape {
			tab = b.table(sl, r.shape)
		}
		var id int32
		if r.sid < 1<<16 {
			if int(r.sid) >= len(tab.ids) {
				tab.ids = append(tab.ids, make([]int32, int(r.sid)+1-len(tab.ids))...)
			}
			if id = tab.ids[r.sid] - 1; id < 0 {
				id = int32(len(b.keys))
				tab.ids[r.sid] = id + 1
				b.keys = append(b.keys, bulkKey{slice: sl, sid: r.sid, shape: r.shape})
			}
		} else {
			if idx == nil {
				idx = map[bulkKey]int32{}
			}
			k := bulkKey{slice: sl, sid: r.sid, shape: r.shape}
			var ok bool
			if id, ok = idx[k]; !ok {
				id = int32(len(b.keys))
				idx[k] = id
				b.keys = append(b.keys, k)
			}
		}
		gidx[i] = id
	}
	for i := range b.tabs {
		clear(b.tabs[i].ids)
	}
	b.tabs = b.tabs[:0]
	order := make([]int32, len(b.keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return b.keys[x].cmp(b.keys[y]) })
	start := make([]int32, len(b.keys))
	counts := make([]int32, len(b.keys))
	tbytes := make([]int, len(b.keys))
	for i, g := range gidx {
		counts[g]++
		tbytes[g] += int(b.recs[i].n)
	}
	pos, total := int32(0), 0
	b.groups = b.groups[:0]
	for _, g := range order {
		start[g] = pos
		b.groups = append(b.groups, bulkSeg{b: b, lo: pos, hi: pos + counts[g]})
		pos += counts[g]
		total, tbytes[g] = total+tbytes[g], total // key g's text starts at total
	}
	// Records and their messages in sorted order, scattered in input
	// order (reading the chunk sequentially, while it is in cache): a
	// write then reads each key's messages one after the other.
	out := b.load.recsBuf(n)[:n]
	t := b.load.text(total)[:total]
	for i, g := range gidx {
		r := b.recs[i]
		off := tbytes[g]
		copy(t[off:], b.Text[r.off:r.off+r.n])
		tbytes[g] += int(r.n)
		r.off = uint32(off)
		out[start[g]] = r
		start[g]++
	}
	b.load.release(b.Text, b.recs)
	b.Text, b.recs = t, out
	// Keys in sorted order, for the load's group map.
	keys := make([]bulkKey, len(order))
	for i, g := range order {
		keys[i] = b.keys[g]
	}
	b.keys = keys
	for _, s := range b.groups {
		run := b.recs[s.lo:s.hi]
		if !slices.IsSortedFunc(run, func(x, y bulkRec) int { return cmpInt(x.ts, y.ts) }) {
			slices.SortStableFunc(run, func(x, y bulkRec) int { return cmpInt(x.ts, y.ts) })
		}
	}
}

// keyTable numbers one (slice, shape)'s keys by stream id: ids[sid]-1.
type keyTable struct {
	slice int64
	shape uint8
	ids   []int32
}

func (b *BulkBatch) table(slice int64, shape uint8) *keyTable {
	for i := range b.tabs {
		if t := &b.tabs[i]; t.slice == slice && t.shape == shape {
			return t
		}
	}
	if len(b.tabs) < cap(b.tabs) {
		b.tabs = b.tabs[:len(b.tabs)+1] // reuse its ids slice
	} else {
		b.tabs = append(b.tabs, keyTable{})
	}
	t := &b.tabs[len(b.tabs)-1]
	t.slice, t.shape = slice, shape
	return t
}

func (b *BulkBatch) bytes() int {
	return cap(b.Text) + cap(b.recs)*int(unsafe.Sizeof(bulkRec{}))
}

// Commit hands a filled batch to the load; the batch is the load's now.
// It may wait while a write is under way and the budget is used.
func (l *BulkLoad) Commit(b *BulkBatch) error {
	b.sort()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting[b.no] = b
	for {
		nb := l.waiting[l.next]
		if nb == nil {
			break
		}
		delete(l.waiting, l.next)
		l.next++
		l.takeLocked(nb)
	}
	if l.pendingB > l.budget && !l.spilling && l.err == nil {
		l.spillLocked(false)
	}
	for l.err == nil && l.spilling && l.pendingB > l.budget {
		l.cond.Wait()
	}
	return l.err
}

func (l *BulkLoad) takeLocked(b *BulkBatch) {
	l.records += int64(len(b.recs))
	// Seq numbers in input order per stream (batches are taken in number
	// order), so a stream's records with equal timestamps keep the file's
	// order whatever shape and part they land in; each stream's records of
	// a batch get consecutive numbers, which its blocks store in about a
	// bit a row.
	clear(b.seqBase)
	for _, st := range b.touched {
		b.seqBase[st.sid] = l.db.reserveSeq(int(st.n))
		st.n = 0
	}
	b.touched = b.touched[:0]
	b.refs = len(b.groups)
	if b.refs == 0 {
		l.recycle(b)
		return
	}
	l.pendingB += b.bytes()
	min := int64(math.MaxInt64)
	for i, s := range b.groups {
		k := b.keys[i]
		g := l.pending[k]
		if g == nil {
			g = &bulkGroup{key: k}
			l.pending[k] = g
		}
		g.segs = append(g.segs, s)
		min = minInt64(min, k.slice)
	}
	l.lastMin = min
}

func minInt64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func (l *BulkLoad) recycle(b *BulkBatch) {
	l.release(b.Text, b.recs)
	b.Text, b.recs = nil, nil
	b.groups = b.groups[:0]
	b.load = nil
	// Kept rather than left to the GC: a load reuses the same few hundred
	// MB of buffers instead of allocating (and collecting) gigabytes.
	l.freeMu.Lock()
	l.free = append(l.free, b)
	l.freeMu.Unlock()
}

// spillLocked starts writing pending groups: those of slices before the
// newest batch's (complete, if input is in time order), or all of them
// when that frees too little or all is true.
func (l *BulkLoad) spillLocked(all bool) {
	var pick []*bulkGroup
	if !all {
		freed := 0
		for k, g := range l.pending {
			if k.slice < l.lastMin {
				pick = append(pick, g)
				for _, s := range g.segs {
					freed += s.b.bytes() / len(s.b.recs) * int(s.hi-s.lo)
				}
			}
		}
		if freed < l.budget/4 {
			pick = pick[:0]
			all = true
		}
	}
	if all {
		for _, g := range l.pending {
			pick = append(pick, g)
		}
	}
	for _, g := range pick {
		delete(l.pending, g.key)
	}
	if len(pick) == 0 {
		return
	}
	l.spilling = true
	go func() {
		err := l.write(pick)
		l.mu.Lock()
		if err != nil && l.err == nil {
			l.err = err
		}
		for _, g := range pick {
			for _, s := range g.segs {
				if s.b.refs--; s.b.refs == 0 {
					l.pendingB -= s.b.bytes()
					l.recycle(s.b)
				}
			}
		}
		l.spilling = false
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
}

// Finish writes everything buffered, installs it and returns the number
// of records loaded. Batches not committed are lost.
func (l *BulkLoad) Finish() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.spilling {
		l.cond.Wait()
	}
	// A batch number that never came (a failed caller) leaves a gap: take
	// the rest anyway.
	for len(l.waiting) > 0 {
		nos := make([]uint64, 0, len(l.waiting))
		for no := range l.waiting {
			nos = append(nos, no)
		}
		slices.Sort(nos)
		for _, no := range nos {
			l.takeLocked(l.waiting[no])
			delete(l.waiting, no)
		}
	}
	if l.err == nil && len(l.pending) > 0 {
		l.spillLocked(true)
		for l.spilling {
			l.cond.Wait()
		}
	}
	var done []*part
	for ds, od := range l.open {
		delete(l.open, ds)
		if l.err != nil {
			od.pw.f.Close()
			l.db.fs.Remove(l.db.partPath(od.id))
			continue
		}
		p, err := l.db.finishPart(od.pw, od.id, l.gid, ds.day)
		if err != nil {
			l.err = err
			continue
		}
		done = append(done, p)
	}
	if l.err != nil {
		release(done)
		return l.records, l.err
	}
	if len(done) > 0 {
		l.err = l.db.installBulk(done)
	}
	return l.records, l.err
}

type dayShape struct {
	day   int64
	shape uint8
}

// openDay is a day's part being written by a bulk load.
type openDay struct {
	pw   *partWriter
	id   uint64
	last bulkKey // of the last rows written
}

func release(ps []*part) {
	for _, p := range ps {
		p.obsolete.Store(true)
		p.unref()
	}
}

// write appends groups, in key order, to their day and shape's open part;
// groups whose keys do not follow the part's last (input out of time order)
// are written as a part of their own and installed.
func (l *BulkLoad) write(groups []*bulkGroup) error {
	slices.SortFunc(groups, func(a, b *bulkGroup) int { return a.key.cmp(b.key) })
	var done []*part
	for len(groups) > 0 {
		ds := dayShape{floorDiv(groups[0].key.slice, dayMs/bucketMs), groups[0].key.shape}
		n := 1
		for n < len(groups) && floorDiv(groups[n].key.slice, dayMs/bucketMs) == ds.day && groups[n].key.shape == ds.shape {
			n++
		}
		od := l.open[ds]
		if od != nil && groups[0].key.cmp(od.last) <= 0 {
			// Late records (keys the open part has passed, e.g. flow
			// records a few minutes behind): a part of their own, so the
			// open part goes on; Compact merges the blocks they overlap.
			late := 0
			for late < n && groups[late].key.cmp(od.last) <= 0 {
				late++
			}
			p, err := l.writePart(ds.day, groups[:late])
			if err != nil {
				release(done)
				return err
			}
			done = append(done, p)
			groups, n = groups[late:], n-late
			if n == 0 {
				continue
			}
		}
		if od == nil {
			pw, id, err := l.db.newPart(false)
			if err != nil {
				release(done)
				return err
			}
			pw.fixedStats = true
			od = &openDay{pw: pw, id: id}
			l.open[ds] = od
		}
		if err := l.writeDay(od.pw, groups[:n]); err != nil {
			release(done)
			return err
		}
		od.last = groups[n-1].key
		groups = groups[n:]
	}
	if len(done) > 0 {
		return l.db.installBulk(done)
	}
	return nil
}

// writePart writes groups of one day and shape as a part of their own.
func (l *BulkLoad) writePart(day int64, groups []*bulkGroup) (*part, error) {
	pw, id, err := l.db.newPart(false)
	if err != nil {
		return nil, err
	}
	pw.fixedStats = true
	if err := l.writeDay(pw, groups); err != nil {
		pw.f.Close()
		l.db.fs.Remove(l.db.partPath(id))
		return nil, err
	}
	return l.db.finishPart(pw, id, l.gid, day)
}

// writeDay appends groups of one day and shape, in key order, to a part.
func (l *BulkLoad) writeDay(pw *partWriter, groups []*bulkGroup) error {
	db := l.db
	blockRows := db.opts.BlockRows
	batch := 2 * runtime.GOMAXPROCS(0)
	var jobs []blockJob
	var free [][]row
	getRows := func() []row {
		if k := len(free); k > 0 {
			r := free[k-1]
			free = free[:k-1]
			return r[:0]
		}
		return make([]row, 0, blockRows)
	}
	buf := getRows()
	shape := -1
	// One round of blocks encodes while the next is gathered, so the end
	// of a load (one write, nothing else to run) keeps every CPU busy.
	var inflight chan []blockJob
	wait := func() {
		if inflight == nil {
			return
		}
		for _, j := range <-inflight {
			clear(j.rows) // drop the messages
			free = append(free, j.rows)
		}
		inflight = nil
	}
	emit := func() {
		if len(buf) > 0 {
			jobs = append(jobs, blockJob{rows: buf, shape: shape})
			buf = getRows()
		}
		if len(jobs) >= batch {
			wait()
			ch, js := make(chan []blockJob, 1), jobs
			go func() {
				pw.addBlocks(js) // with fixedStats, touches no state of this loop
				ch <- js
			}()
			inflight, jobs = ch, nil
		}
	}
	for _, g := range groups {
		sh := int(g.key.shape)
		if sh != shape {
			emit()
			shape = sh
		}
		st := pw.stats[g.key.sid]
		runs := g.segs
		if !runsOrdered(runs) {
			// Out-of-order input: merge this key's runs by timestamp.
			runs = sortedRuns(runs)
		}
		for _, s := range runs {
			text, base := s.b.Text, s.b.seqBase[g.key.sid]
			for _, r := range s.b.recs[s.lo:s.hi] {
				if len(buf) == blockRows {
					emit()
				}
				msg := unsafe.String(unsafe.SliceData(text[r.off:]), int(r.n))
				buf = append(buf, row{ts: r.ts, seq: base + uint64(r.rank), ingest: l.ingest, sid: r.sid, msg: msg, shape: r.shape})
				st.addRow(r.ts, l.ingest, int(r.n))
			}
		}
		pw.stats[g.key.sid] = st
	}
	emit()
	wait()
	if len(jobs) > 0 {
		pw.addBlocks(jobs)
	}
	return pw.err
}

// runsOrdered reports whether a key's runs, concatenated in batch order,
// are in timestamp order (input in time order).
func runsOrdered(segs []bulkSeg) bool {
	for i := 1; i < len(segs); i++ {
		a, b := segs[i-1], segs[i]
		if a.b.recs[a.hi-1].ts > b.b.recs[b.lo].ts {
			return false
		}
	}
	return true
}

// sortedRuns splits a key's runs into single-record runs ordered by
// timestamp, keeping batch order among equal timestamps.
func sortedRuns(segs []bulkSeg) []bulkSeg {
	var out []bulkSeg
	for _, s := range segs {
		for i := s.lo; i < s.hi; i++ {
			out = append(out, bulkSeg{b: s.b, lo: i, hi: i + 1})
		}
	}
	slices.SortStableFunc(out, func(x, y bulkSeg) int { return cmpInt(x.b.recs[x.lo].ts, y.b.recs[y.lo].ts) })
	return out
}

// reserveSeq hands out n sequence numbers and returns the first.
func (db *DB) reserveSeq(n int) uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	first := db.seq + 1
	db.seq += uint64(n)
	return first
}

// installBulk makes parts written by a bulk load live: a flush commits
// them with a checkpoint that names every stream they hold.
func (db *DB) installBulk(ps []*part) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	return db.flushWith(ps)
}
