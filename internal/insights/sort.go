package insights

import (
	"container/heap"
	"sort"
)

// SortAscendingByDefault is the direction of a sort key written without
// asc/desc; AWS does not document it, and its one sample (`sort t` after
// bin) reads as chronological.
const SortAscendingByDefault = true

// newBarrier builds the barrier ending seg. first says whether its input
// is raw events (ordered newest first by default) or an earlier barrier's
// ordered rows.
func newBarrier(pl *plan, seg segment, first bool) (barrier, error) {
	switch x := seg.barrier.(type) {
	case *StatsCmd:
		sb, err := newStatsBarrier(pl, x, seg.nextSort)
		if err == nil {
			sb.(*statsBarrier).maxRows = seg.rowsAfter
		}
		return sb, err
	case *SortCmd:
		sb := &sortBarrier{pl: pl, keys: x.Keys, k: seg.limit, first: first, statsTie: seg.prevStats != nil}
		if seg.prevStats != nil {
			for _, p := range seg.prevStats.By {
				if s, ok := pl.slotOf[p.Name()]; ok {
					sb.tieSlots = append(sb.tieSlots, s)
				}
			}
		}
		return sb, nil
	case *LimitCmd:
		return &sortBarrier{pl: pl, k: x.N, first: first}, nil
	case *DedupCmd:
		return &dedupBarrier{pl: pl, cmd: x, k: seg.limit, first: first}, nil
	case *PatternCmd:
		return &patternBarrier{pl: pl, cmd: x, first: first}, nil
	case nil:
		return &sortBarrier{pl: pl, k: seg.limit, first: first}, nil
	}
	return nil, errAt(pl.q.Text, seg.barrier.Pos(), "unsupported command")
}

// sortBarrier orders rows by keys, breaking ties by input order (newest
// first for raw events), and keeps the best k with a heap when bounded.
type sortBarrier struct {
	pl    *plan
	keys  []SortKey
	k     int
	first bool
	// statsTie: rows come straight from stats, which left their order to
	// this sort: ties go newest time bucket first, then by the by-key
	// values (tieSlots) in ascending sort order.
	statsTie bool
	tieSlots []int
}

type sortWorker struct {
	sb    *sortBarrier
	fns   []evalFn
	desc  []bool
	recs  recHeap
	ord   int
	probe record
}

func (s *sortBarrier) newWorker(c *compiler) (barrierWorker, error) {
	w := &sortWorker{sb: s}
	for _, k := range s.keys {
		f, err := c.compile(k.Expr)
		if err != nil {
			return nil, err
		}
		w.fns = append(w.fns, f)
		desc := k.Desc
		if !k.Dir {
			desc = !SortAscendingByDefault
		}
		w.desc = append(w.desc, desc)
	}
	w.recs.less = w.less
	w.probe.keys = make([]Value, len(w.fns))
	return w, nil
}

// less reports whether a sorts before b.
func (w *sortWorker) less(a, b *record) bool {
	for i := range w.fns {
		av, bv := a.keys[i], b.keys[i]
		switch {
		case av.K == KNull && bv.K == KNull:
			continue
		case av.K == KNull: // absent values last in both directions
			return false
		case bv.K == KNull:
			return true
		}
		c := sortCompare(av, bv)
		if w.desc[i] {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	if w.sb.first {
		if a.ts != b.ts {
			return a.ts > b.ts
		}
		if a.seq != b.seq {
			return a.seq > b.seq
		}
		return a.tgt < b.tgt
	}
	if w.sb.statsTie {
		if a.tk != b.tk {
			return a.tk > b.tk
		}
		for _, s := range w.sb.tieSlots {
			av, bv := a.vals[s], b.vals[s]
			switch {
			case av.K == KNull && bv.K == KNull:
				continue
			case av.K == KNull:
				return false
			case bv.K == KNull:
				return true
			}
			if c := sortCompare(av, bv); c != 0 {
				return c < 0
			}
		}
	}
	return a.ord < b.ord
}

func (w *sortWorker) consume(b *batch, rc *rowCtx) {
	for _, i := range b.sel {
		b.row(i, rc)
		p := &w.probe
		for k, f := range w.fns {
			p.keys[k] = f(rc)
		}
		p.ts, p.seq, p.tgt, p.ord, p.tk = rc.ts, rc.seq, rc.tgt, w.ord, rc.tk
		p.vals = rc.vals // read by statsTie, only after a stats (no lazy slots)
		w.ord++
		if len(w.fns) == 0 && !w.sb.first {
			// Rows already in order: keep the first k as they come.
			if w.sb.k > 0 && len(w.recs.r) >= w.sb.k {
				continue
			}
			r := record{keys: []Value{}}
			rc.materialize()
			copyInto(&r, p, rc.vals)
			w.recs.r = append(w.recs.r, r)
			continue
		}
		if w.sb.k > 0 && len(w.recs.r) >= w.sb.k {
			// The heap's root is the worst row kept; skip rows not better.
			if !w.less(p, &w.recs.r[0]) {
				continue
			}
			r := &w.recs.r[0]
			rc.materialize()
			copyInto(r, p, rc.vals)
			heap.Fix(&w.recs, 0)
			continue
		}
		var r record
		r.keys = make([]Value, len(p.keys))
		rc.materialize()
		copyInto(&r, p, rc.vals)
		if w.sb.k > 0 {
			heap.Push(&w.recs, r)
		} else {
			w.recs.r = append(w.recs.r, r)
		}
	}
}

// copyInto stores the probe and its row in r, cloning text so that it
// outlives the block.
func copyInto(r *record, p *record, vals []Value) {
	for i, v := range p.keys {
		r.keys[i] = v.clone()
	}
	if r.vals == nil {
		r.vals = make([]Value, len(vals))
	}
	for i, v := range vals {
		r.vals[i] = v.clone()
	}
	r.ts, r.seq, r.tgt, r.ord, r.tk = p.ts, p.seq, p.tgt, p.ord, p.tk
}

func (s *sortBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	var all []record
	var less func(a, b *record) bool
	for _, w := range ws {
		sw := w.(*sortWorker)
		all = append(all, sw.recs.r...)
		less = sw.less
	}
	if less != nil && (len(ws) > 1 || len(s.keys) > 0 || s.first || s.k > 0) {
		sort.Slice(all, func(i, j int) bool { return less(&all[i], &all[j]) })
	}
	if s.k > 0 && len(all) > s.k {
		all = all[:s.k]
	}
	for i := range all {
		all[i].ord = i
	}
	return all, nil
}

// recHeap is a max-heap on the sort order: the root is the worst row.
type recHeap struct {
	r    []record
	less func(a, b *record) bool
}

func (h *recHeap) Len() int           { return len(h.r) }
func (h *recHeap) Less(i, j int) bool { return h.less(&h.r[j], &h.r[i]) }
func (h *recHeap) Swap(i, j int)      { h.r[i], h.r[j] = h.r[j], h.r[i] }
func (h *recHeap) Push(x any)         { h.r = append(h.r, x.(record)) }
func (h *recHeap) Pop() any {
	x := h.r[len(h.r)-1]
	h.r = h.r[:len(h.r)-1]
	return x
}
