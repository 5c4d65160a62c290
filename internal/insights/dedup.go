package insights

import (
	"container/heap"
	"slices"
)

// dedupBarrier keeps the first row (in the current order) of each
// combination of the dedup fields, and every row missing one of them. Only
// limit may follow dedup, so just the first k survivors matter: each worker
// keeps the best k in a heap, with a map from key to its entry. Evicting a
// key from the heap is safe: a later row of that key that is better than
// the evicted one would have to beat the k rows that evicted it, and then
// it is that key's true first row.
type dedupBarrier struct {
	pl    *plan
	cmd   *DedupCmd
	k     int
	first bool
}

type dedupWorker struct {
	db    *dedupBarrier
	order *sortWorker // tie order only: no keys
	slots []int
	h     dedupHeap
	ord   int
	buf   []byte
}

type dedupEntry struct {
	rec record
	key string // "" with missing fields: never a duplicate
	idx int
}

func (d *dedupBarrier) newWorker(c *compiler) (barrierWorker, error) {
	sw := &sortWorker{sb: &sortBarrier{pl: d.pl, first: d.first}}
	w := &dedupWorker{db: d, order: sw}
	for _, f := range d.cmd.Fields {
		w.slots = append(w.slots, slotOr(d.pl, f))
	}
	w.h.less = sw.less
	w.h.byKey = map[string]*dedupEntry{}
	return w, nil
}

func (w *dedupWorker) consume(b *batch, rc *rowCtx) {
	for _, i := range b.sel {
		b.row(i, rc)
		p := record{ts: rc.ts, seq: rc.seq, tgt: rc.tgt, ord: w.ord, tk: rc.tk}
		w.ord++
		key, ok := w.key(rc)
		full := w.db.k > 0 && w.h.Len() >= w.db.k
		if ok {
			if e := w.h.byKey[key]; e != nil {
				if !w.h.less(&p, &e.rec) {
					continue
				}
				rc.materialize()
				copyInto(&e.rec, &p, rc.vals)
				heap.Fix(&w.h, e.idx)
				continue
			}
		}
		if full && !w.h.less(&p, &w.h.e[0].rec) {
			continue
		}
		rc.materialize()
		e := &dedupEntry{}
		copyInto(&e.rec, &p, rc.vals)
		if ok {
			e.key = key
			w.h.byKey[key] = e
		}
		heap.Push(&w.h, e)
		if w.db.k > 0 && w.h.Len() > w.db.k {
			heap.Pop(&w.h)
		}
	}
}

// key encodes the row's dedup values; ok is false when one is missing.
func (w *dedupWorker) key(rc *rowCtx) (string, bool) {
	w.buf = w.buf[:0]
	for _, s := range w.slots {
		if s < 0 {
			return "", false
		}
		v := rc.get(s)
		if v.K == KNull {
			return "", false
		}
		w.buf = v.appendText(w.buf)
		w.buf = append(w.buf, 0)
	}
	return string(w.buf), true
}

func (d *dedupBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	var all []*dedupEntry
	best := map[string]*dedupEntry{}
	var less func(a, b *record) bool
	for _, bw := range ws {
		w := bw.(*dedupWorker)
		less = w.h.less
		for _, e := range w.h.e {
			if e.key == "" {
				all = append(all, e)
				continue
			}
			if cur := best[e.key]; cur == nil || less(&e.rec, &cur.rec) {
				best[e.key] = e
			}
		}
	}
	for _, e := range best {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *dedupEntry) int {
		if less(&a.rec, &b.rec) {
			return -1
		}
		if less(&b.rec, &a.rec) {
			return 1
		}
		return 0
	})
	if d.k > 0 && len(all) > d.k {
		all = all[:d.k]
	}
	out := make([]record, len(all))
	for i, e := range all {
		out[i] = e.rec
		out[i].ord = i
	}
	return out, nil
}

// dedupHeap is a max-heap on the order (the root is the worst kept row).
type dedupHeap struct {
	e     []*dedupEntry
	less  func(a, b *record) bool
	byKey map[string]*dedupEntry
}

func (h *dedupHeap) Len() int           { return len(h.e) }
func (h *dedupHeap) Less(i, j int) bool { return h.less(&h.e[j].rec, &h.e[i].rec) }
func (h *dedupHeap) Swap(i, j int) {
	h.e[i], h.e[j] = h.e[j], h.e[i]
	h.e[i].idx, h.e[j].idx = i, j
}
func (h *dedupHeap) Push(x any) {
	e := x.(*dedupEntry)
	e.idx = len(h.e)
	h.e = append(h.e, e)
}
func (h *dedupHeap) Pop() any {
	e := h.e[len(h.e)-1]
	h.e = h.e[:len(h.e)-1]
	if e.key != "" && h.byKey[e.key] == e {
		delete(h.byKey, e.key)
	}
	return e
}
