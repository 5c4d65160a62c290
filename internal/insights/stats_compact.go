package insights

import (
	"runtime"
	"sync"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Compact aggregation: `stats count(*), sum(x) … by k1, …, k4` where every
// key is a bound token column and every sum reads a bound int column (the
// flow-log top-talker shape, issue 3's Q1 and Q7). Aggregate states live in
// the hash slot next to the packed key — one cache line touched per row,
// no group ids, no key copies, about a third of the general table's memory
// per group — and the workers' tables are merged partition by partition in
// parallel. The packing is packKeys', so a batch the compact table cannot
// take (a key that does not pack, a sum argument that is not an int
// column, a sum that might overflow int64) converts the worker's compact
// table into its general table, which then carries on exactly as if it had
// been used from the start.

// compactAggregation turns the compact path on; tests turn it off to
// compare with the general path.
var compactAggregation = true

// cPart is one radix partition of a compact table: open addressing with
// linear probing over a flat []uint64, stride words per slot:
//
//	a, [b] (the packed key: b only for 128-bit keys, kw words),
//	flags (bit 0: used; bit 1+s: sum s has input),
//	one word per aggregate (count, or sum as int64)
//
// slot and each hand out a slot from its flags word on (s[0] flags,
// s[1+k] aggregate k).
type cPart struct {
	slots  []uint64
	mask   uint64
	shift  uint
	mul    uint64
	n      int
	stride int
	kw     int
}

// compactParts is the number of radix partitions (a power of two): the
// top bits of a key's hash choose it, the next bits its slot.
const (
	compactBits  = 4
	compactParts = 1 << compactBits
)

// compactTable is one packed-key table (one combination of key kinds, as
// groupTable.m64/m128) split into partitions.
type compactTable struct {
	parts [compactParts]cPart
	// text: some key word is interned text (ids differ between workers);
	// keepA, keepB mask the other words, fixed: there are some.
	text, fixed  bool
	keepA, keepB uint64
	idx          int
}

// compactAggs is a worker's compact state.
type compactAggs struct {
	naggs int
	isSum []bool // per aggregate: sum (else count(*))
	tabs  map[int]*compactTable
	bound uint64 // upper bound of any |sum| so far
}

// compactEligible reports whether a stats command can start compact.
func (w *statsWorker) compactEligible() bool {
	nby := len(w.kv)
	if nby == 0 || nby > 4 {
		return false
	}
	for k := range nby {
		if w.bySl[k] < 0 || w.binP[k] != 0 {
			return false
		}
	}
	for _, sp := range w.specs {
		if sp.arg == nil {
			continue
		}
		if sp.name != "sum" || sp.argSl < 0 {
			return false
		}
	}
	return true
}

func newCompactAggs(specs []aggSpec) *compactAggs {
	c := &compactAggs{naggs: len(specs), tabs: map[int]*compactTable{}}
	for _, sp := range specs {
		c.isSum = append(c.isSum, sp.arg != nil)
	}
	return c
}

func (c *compactAggs) table(idx int) *compactTable {
	t := c.tabs[idx]
	if t == nil {
		t = &compactTable{idx: idx}
		kw := 1 // 64-bit keys (idx < 1<<20) need no second word
		if idx >= 1<<20 {
			kw = 2
			masks := [4]uint64{0xffffffff << 32, 0xffffffff, 0xffffffff << 32, 0xffffffff}
			for k := range idx >> 16 & 0xf {
				if Kind(idx>>(4*k)&0xf) == KStr {
					t.text = true
					continue
				}
				t.fixed = true
				if k < 2 {
					t.keepA |= masks[k]
				} else {
					t.keepB |= masks[k]
				}
			}
		}
		for p := range t.parts {
			t.parts[p].kw = kw
			t.parts[p].init(64, kw+1+c.naggs)
		}
		c.tabs[idx] = t
	}
	return t
}

func (p *cPart) init(size, stride int) {
	p.slots = make([]uint64, size*stride)
	p.mask = uint64(size - 1)
	p.shift = 64
	for s := size; s > 1; s >>= 1 {
		p.shift--
	}
	p.stride = stride
	if p.mul == 0 {
		p.mul = tableMul() | 1
	}
}

// keyHash mixes a packed key; its top bits pick the partition.
func keyHash(a, b uint64) uint64 {
	h := (a*0x9E3779B97F4A7C15 ^ (b*0xC2B2AE3D27D4EB4F + b>>29)) * 0xD6E8FEB86659FD93
	return h ^ h>>32
}

// partition picks the radix partition of a key: the top bits of its hash
// h, except that text words (whose ids differ between workers) do not
// count — or, when every word is text, count by the hash of their text —
// so that a key lands in the same partition in every worker and
// partitions merge independently.
func (t *compactTable) partition(a, b, h uint64, hs []uint32) uint64 {
	switch {
	case !t.text:
	case t.fixed:
		h = keyHash(a&t.keepA, b&t.keepB)
	default:
		w := [4]uint32{uint32(a >> 32), uint32(a), uint32(b >> 32), uint32(b)}
		for k := range t.idx >> 16 & 0xf {
			w[k] = hs[w[k]]
		}
		h = keyHash(uint64(w[0])<<32|uint64(w[1]), uint64(w[2])<<32|uint64(w[3]))
	}
	return h >> (64 - compactBits)
}

// slot returns the slot of key (a, b) with hash h, inserting it.
func (p *cPart) slot(a, b, h uint64) []uint64 {
	st, kw := p.stride, p.kw
	for i := (h * p.mul) >> p.shift; ; i = (i + 1) & p.mask {
		s := p.slots[int(i)*st : int(i)*st+st : int(i)*st+st]
		if s[kw]&1 == 0 {
			if (p.n+1)*4 > (len(p.slots)/st)*3 {
				p.grow()
				return p.slot(a, b, h)
			}
			s[0], s[kw] = a, 1
			if kw == 2 {
				s[1] = b
			}
			p.n++
			return s[kw:]
		}
		if s[0] == a && (kw == 1 || s[1] == b) {
			return s[kw:]
		}
	}
}

func (p *cPart) grow() {
	old, st := p.slots, p.stride
	p.init(2*len(old)/st, st)
	p.n = 0
	for o := 0; o < len(old); o += st {
		if old[o+p.kw]&1 != 0 {
			a, b := old[o], uint64(0)
			if p.kw == 2 {
				b = old[o+1]
			}
			copy(p.slot(a, b, keyHash(a, b)), old[o+p.kw:o+st])
		}
	}
}

// each calls fn for every used slot.
func (p *cPart) each(fn func(a, b uint64, s []uint64)) {
	st, kw := p.stride, p.kw
	for o := 0; o < len(p.slots); o += st {
		if p.slots[o+kw]&1 != 0 {
			var b uint64
			if kw == 2 {
				b = p.slots[o+1]
			}
			fn(p.slots[o], b, p.slots[o+kw:o+st:o+st])
		}
	}
}

// compactBatch aggregates a batch into the compact table and reports
// whether it could; false leaves the batch, untouched, to the general path.
func (w *statsWorker) compactBatch(b *batch) bool {
	c := w.ct
	cols, ok := w.keyCols(b)
	if !ok {
		return false
	}
	var args []*logstore.TokenColumn
	var add uint64
	for a, sp := range w.specs {
		if !c.isSum[a] {
			args = append(args, nil)
			continue
		}
		l := b.lazy[sp.argSl]
		if l == nil || l.c == nil || l.c.Kind != logstore.KindInt {
			return false
		}
		col := l.c
		for _, i := range b.sel {
			if col.Null == nil || !col.Null[i] {
				v := col.Ints[i]
				if v < 0 {
					v = -v
				}
				add += uint64(v)
			}
		}
		args = append(args, col)
	}
	// No sum can overflow int64 (then the general table switches to
	// floating point): |sum| never exceeds the total of |values| added.
	if c.bound+add >= 1<<62 || add >= 1<<62 {
		return false
	}
	w.gen++
	w.packKeys(b, cols[:len(w.kv)])
	n := len(b.sel)
	pIdx, pA, pB := w.pIdx[:n], w.pA[:n], w.pB[:n]
	for _, idx := range pIdx {
		if idx < 0 {
			return false
		}
	}
	c.bound += add
	var (
		tab    *compactTable
		tabIdx = int32(-1)
		prevA  uint64
		prevB  uint64
		prevT  = int32(-1)
		s      []uint64
	)
	for j, i := range b.sel {
		idx, a, bb := pIdx[j], pA[j], pB[j]
		if idx != prevT || a != prevA || bb != prevB {
			if idx != tabIdx {
				tab, tabIdx = c.table(int(idx)), idx
			}
			h := keyHash(a, bb)
			s = tab.parts[tab.partition(a, bb, h, w.t.intern.hs)].slot(a, bb, h)
			prevT, prevA, prevB = idx, a, bb
		}
		for k, col := range args {
			if col == nil {
				s[1+k]++
				continue
			}
			if col.Null != nil && col.Null[i] {
				continue
			}
			s[1+k] = uint64(int64(s[1+k]) + col.Ints[i])
			s[0] |= 2 << k
		}
	}
	return true
}

// keyValues unpacks a compact key into the values lookup would be given;
// strs are the interned texts of its worker.
func keyValues(idx int, a, b uint64, nby int, strs []string, kv []Value) {
	var words [4]uint32
	var kinds [4]Kind
	if idx < 1<<20 {
		if nby == 1 {
			words[0], kinds[0] = uint32(a), Kind(idx/8)
		} else {
			words[0], words[1] = uint32(a>>32), uint32(a)
			kinds[0], kinds[1] = Kind(idx/8), Kind(idx%8)
		}
	} else {
		words = [4]uint32{uint32(a >> 32), uint32(a), uint32(b >> 32), uint32(b)}
		for k := range nby {
			kinds[k] = Kind(idx >> (4 * k) & 0xf)
		}
	}
	for k := range nby {
		if kinds[k] == KStr {
			kv[k] = Value{K: KStr, S: strs[words[k]]}
		} else {
			kv[k] = Value{K: kinds[k], I: int64(words[k])}
		}
	}
}

// setStates adds a compact slot's aggregates to group g of t.
func (c *compactAggs) setStates(t *groupTable, g int32, s []uint64) {
	for k := 0; k < c.naggs; k++ {
		if !c.isSum[k] {
			t.aggs[k].(*countAgg).n[g] += int64(s[1+k])
		} else if s[0]&(2<<k) != 0 {
			t.aggs[k].add(g, Value{K: KInt, I: int64(s[1+k])}, nil)
		}
	}
}

// dropCompact moves the compact groups into the general table and
// leaves the worker on the general path.
func (w *statsWorker) dropCompact() {
	c, t := w.ct, w.t
	w.ct = nil
	if c == nil {
		return
	}
	nby := len(w.kv)
	kv := make([]Value, nby)
	for idx, tab := range c.tabs {
		for p := range tab.parts {
			tab.parts[p].each(func(a, b uint64, s []uint64) {
				keyValues(idx, a, b, nby, t.intern.strs, kv)
				c.setStates(t, t.lookup(kv), s)
			})
		}
	}
}

// mergeCompact merges the workers' compact tables partition by partition
// on all cores into a general table holding exactly the groups (no hash
// index: only stream reads it). It returns nil when some worker left the
// compact path; their tables are then converted for mergeTables.
func mergeCompact(ws []barrierWorker, top *topFilter) *groupTable {
	var sws []*statsWorker
	for _, bw := range ws {
		sw := bw.(*statsWorker)
		sws = append(sws, sw)
	}
	all := true
	for _, sw := range sws {
		all = all && sw.ct != nil
	}
	if !all {
		for _, sw := range sws {
			sw.dropCompact()
		}
		return nil
	}
	w0 := sws[0]
	c0, t := w0.ct, w0.t
	nby := len(w0.kv)
	// One interner for the result: the other workers' text ids are
	// translated into w0's before merging (interning is not concurrent).
	xl := make([][]uint32, len(sws))
	// w0's cache still holds its last block's text: let it go.
	t.intern.reset()
	for i, sw := range sws[1:] {
		strs := sw.t.intern.strs
		x := make([]uint32, len(strs))
		for id, s := range strs {
			x[id] = t.intern.get(s)
		}
		xl[i+1] = x
	}
	t.intern.reset()
	type src struct {
		tab *compactTable
		x   []uint32
	}
	byIdx := map[int][]src{}
	var idxs []int
	for i, sw := range sws {
		for idx, tab := range sw.ct.tabs {
			if byIdx[idx] == nil {
				idxs = append(idxs, idx)
			}
			byIdx[idx] = append(byIdx[idx], src{tab, xl[i]})
		}
		sw.ct = nil
	}
	// Each table merges into its first source, whose keys must hold w0's
	// text ids: when w0 has no table of this kind the first source is
	// another worker's, with ids of its own interner, so an empty table of
	// w0's goes first instead (else its ids would be read as w0's, naming
	// the wrong text, and other workers' translated keys would meet them).
	for _, idx := range idxs {
		if srcs := byIdx[idx]; srcs[0].x != nil && srcs[0].tab.text {
			byIdx[idx] = append([]src{{c0.table(idx), nil}}, srcs...)
		}
	}
	// Partition jobs: (table, partition); each merges its sources into
	// the first one's partition, then the results are appended to t.
	type job struct {
		idx  int
		p    int
		srcs []src
	}
	var jobs []job
	for _, idx := range idxs {
		for p := range compactParts {
			jobs = append(jobs, job{idx, p, byIdx[idx]})
		}
	}
	var wg sync.WaitGroup
	next := make(chan int, len(jobs))
	for j := range jobs {
		next <- j
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				jb := jobs[j]
				dst := &jb.srcs[0].tab.parts[jb.p]
				for _, sr := range jb.srcs[1:] {
					part := &sr.tab.parts[jb.p]
					part.each(func(a, b uint64, s []uint64) {
						if sr.x != nil && jb.idx >= 1<<20 {
							a, b = translateKey(jb.idx, a, b, nby, sr.x)
						}
						d := dst.slot(a, b, keyHash(a, b))
						d[0] |= s[0]
						for k := 0; k < c0.naggs; k++ {
							d[1+k] = uint64(int64(d[1+k]) + int64(s[1+k]))
						}
					})
					*part = cPart{} // free it as soon as it is merged
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, idx := range idxs {
		tab := byIdx[idx][0].tab
		for p := range tab.parts {
			total += tab.parts[p].n
		}
	}
	// Only groups that can make a following sort's top k become rows.
	keep := func([]uint64) bool { return true }
	if top != nil && top.k < total {
		th := top.threshold(c0, func(fn func(s []uint64)) {
			for _, idx := range idxs {
				tab := byIdx[idx][0].tab
				for p := range tab.parts {
					tab.parts[p].each(func(_, _ uint64, s []uint64) { fn(s) })
				}
			}
		})
		keep = func(s []uint64) bool { return top.atLeast(c0, s, th) }
		if th.ok {
			total = top.k // about: ties come on top
		}
	}
	t.kI = make([]int64, 0, total*nby)
	t.kK = make([]Kind, 0, total*nby)
	for k, a := range t.aggs {
		if c0.isSum[k] {
			a.(*sumAgg).s = make([]sumState, 0, total)
		} else {
			a.(*countAgg).n = make([]int64, 0, total)
		}
	}
	kv := make([]Value, nby)
	for _, idx := range idxs {
		tab := byIdx[idx][0].tab
		for p := range tab.parts {
			tab.parts[p].each(func(a, b uint64, s []uint64) {
				if keep(s) {
					keyValues(idx, a, b, nby, t.intern.strs, kv)
					c0.setStates(t, t.add(kv), s)
				}
			})
			tab.parts[p] = cPart{}
		}
	}
	return t
}

// translateKey rewrites the text ids of a 128-bit packed key.
func translateKey(idx int, a, b uint64, nby int, x []uint32) (uint64, uint64) {
	w := [4]uint32{uint32(a >> 32), uint32(a), uint32(b >> 32), uint32(b)}
	for k := range nby {
		if Kind(idx>>(4*k)&0xf) == KStr {
			w[k] = x[w[k]]
		}
	}
	return uint64(w[0])<<32 | uint64(w[1]), uint64(w[2])<<32 | uint64(w[3])
}

// topFilter is a following `sort <aggregate> | limit k` (statsBarrier.sortTop).
type topFilter struct {
	k, agg int
	desc   bool
}

// slotValue is aggregate agg of a compact slot as its result would be:
// a count, or a sum (absent when no input).
func slotValue(c *compactAggs, s []uint64, agg int) (int64, bool) {
	if c.isSum[agg] && s[0]&(2<<agg) == 0 {
		return 0, false
	}
	return int64(s[1+agg]), true
}

// threshold is the k-th best value over the slots each visits (absent
// values sort last both ways; ok false: fewer than k values, keep all).
func (f *topFilter) threshold(c *compactAggs, each func(func(s []uint64))) (th compactThreshold) {
	better := func(x, y int64) bool { return x > y == f.desc && x != y }
	// h is a heap of the k best values so far with the worst on top.
	h := make([]int64, 0, f.k)
	each(func(s []uint64) {
		v, ok := slotValue(c, s, f.agg)
		if !ok {
			return
		}
		if len(h) < f.k {
			h = append(h, v)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !better(h[p], h[i]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			return
		}
		if !better(v, h[0]) {
			return
		}
		h[0] = v
		for i := 0; ; {
			l, w := 2*i+1, i
			if l < len(h) && better(h[w], h[l]) {
				w = l
			}
			if r := l + 1; r < len(h) && better(h[w], h[r]) {
				w = r
			}
			if w == i {
				break
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	})
	if len(h) < f.k {
		return compactThreshold{}
	}
	return compactThreshold{v: h[0], ok: true}
}

type compactThreshold struct {
	v  int64
	ok bool
}

// atLeast: slot s is as good as the threshold or better (ties kept).
func (f *topFilter) atLeast(c *compactAggs, s []uint64, th compactThreshold) bool {
	if !th.ok {
		return true
	}
	v, ok := slotValue(c, s, f.agg)
	if !ok {
		return false
	}
	if f.desc {
		return v >= th.v
	}
	return v <= th.v
}
