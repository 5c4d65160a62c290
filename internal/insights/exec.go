package insights

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// execEnv is shared, read-only query state.
type execEnv struct {
	now     time.Time
	targets []Target
	pl      *plan
	start   int64 // inclusive, ms
	end     int64 // inclusive, ms
	prev    bool  // scanning diff's comparison range
}

// batch is a block of rows in row-major slot layout with a selection
// vector; every operator works a batch at a time.
type batch struct {
	ns   int
	n    int
	vals []Value
	ts   []int64
	seq  []uint64
	tgt  []int32
	tk   []int64
	sel  []int32
	// lazy[s], when set, holds slot s for every row as a token column of
	// blk: read through rowCtx.get, materialised only for rows kept.
	lazy []*lazyCol
	blk  *logstore.Block // the source block in the first segment (row i is block row i)
	// tgt[:tgtN] all hold tgtVal (processBlock fills it once per target).
	tgtN   int
	tgtVal int32
}

func (b *batch) reset(n, ns int) {
	b.n, b.ns = n, ns
	if cap(b.vals) < n*ns {
		b.vals = make([]Value, n*ns)
	}
	b.vals = b.vals[:n*ns]
	if cap(b.ts) < n {
		b.ts, b.seq, b.tgt, b.sel = make([]int64, n), make([]uint64, n), make([]int32, n), make([]int32, n)
		b.tgtN = 0
	}
	b.ts, b.seq, b.tgt, b.sel = b.ts[:n], b.seq[:n], b.tgt[:n], b.sel[:0]
	b.tk = nil
	clear(b.lazy)
}

// lazyCol is a token column bound to a slot.
type lazyCol struct {
	c *logstore.TokenColumn
	// msg, instead of c: the slot is @message, rebuilt from msg's token
	// columns for the rows that get materialised; a failure to decode
	// them is recorded in *err.
	msg *logstore.Block
	err *error
	// ts, instead of c: the slot is @timestamp, read from the batch's
	// timestamps (bin() reads those directly, so most rows never need it).
	ts []int64
}

func (l *lazyCol) value(i int32) Value {
	if l.ts != nil {
		return Value{K: KTime, I: l.ts[i]}
	}
	if l.msg != nil {
		if err := l.msg.DecodeTokens(); err != nil {
			if *l.err == nil {
				*l.err = err
			}
			return null
		}
		return strVal(messageAt(l.msg, int(i)))
	}
	c := l.c
	switch c.Kind {
	case logstore.KindInt:
		if c.Null != nil && c.Null[i] {
			return dashVal
		}
		return Value{K: KInt, I: c.Ints[i]}
	case logstore.KindIPv4:
		if c.Null != nil && c.Null[i] {
			return dashVal
		}
		return Value{K: KIP, I: int64(c.IPs[i])}
	case logstore.KindIP:
		if c.Null != nil && c.Null[i] {
			return dashVal
		}
		if c.Is6 != nil && c.Is6[i] {
			// IPv6 is text to the engine, as classify types it.
			return Value{K: KStr, S: c.String(int(i))}
		}
		return Value{K: KIP, I: int64(c.IPs[i])}
	}
	// Dictionary text stays untyped here: comparisons, sums and group
	// keys (normKey) type it on use, which beats typing whole dictionaries
	// of high-cardinality columns per block.
	return Value{K: KStr, S: c.Dict[c.Codes[i]]}
}

// bind makes slot s read lazily through l (a token column, @message from
// the token columns, or the timestamps) for this block; l is kept in store[s].
func (b *batch) bind(s int, l lazyCol, store []lazyCol) {
	if b.lazy == nil {
		b.lazy = make([]*lazyCol, b.ns)
	}
	store[s] = l
	b.lazy[s] = &store[s]
}

// unbind stops lazy reads of slot s before an operator writes it.
func (b *batch) unbind(s int) {
	if b.lazy != nil {
		b.lazy[s] = nil
	}
}

// materialize writes every lazy slot of the selected rows into vals.
func (b *batch) materialize() {
	for s, l := range b.lazy {
		if l == nil {
			continue
		}
		for _, i := range b.sel {
			b.vals[int(i)*b.ns+s] = l.value(i)
		}
		b.lazy[s] = nil
	}
}

func (b *batch) row(i int32, rc *rowCtx) {
	o := int(i) * b.ns
	rc.vals = b.vals[o : o+b.ns : o+b.ns]
	rc.row, rc.lazy = i, b.lazy
	rc.ts, rc.seq, rc.tgt = b.ts[i], b.seq[i], b.tgt[i]
	rc.tk = 0
	if b.tk != nil {
		rc.tk = b.tk[i]
	}
}

// record is a row kept past a barrier.
type record struct {
	vals []Value
	ts   int64
	seq  uint64
	tgt  int32
	ord  int     // input position, for stable order after the first barrier
	tk   int64   // stats rows: the first time key, for tie order
	keys []Value // sort keys
}

func (v Value) clone() Value {
	if v.S != "" {
		v.S = strings.Clone(v.S)
	}
	return v
}

// streamOp is a row-at-a-time command applied to a whole batch.
type streamOp interface {
	apply(b *batch, rc *rowCtx) *batch
}

// barrierWorker consumes batches on one goroutine; barrier merges the
// workers' states when every batch has been consumed.
type barrierWorker interface {
	consume(b *batch, rc *rowCtx)
}

type barrier interface {
	newWorker(c *compiler) (barrierWorker, error)
	finish(ws []barrierWorker, in int) ([]record, error)
}

// worker holds one goroutine's compiled segment and scratch space.
type worker struct {
	env  *execEnv
	ops  []streamOp
	bw   barrierWorker
	b    batch
	rc   rowCtx
	base []baseLoader
	json map[string]Value
	lazy []lazyCol // per slot, reused across blocks

	scanned, matched, bytes int64
	err                     error // of the block being processed (decoding skipped token columns)
}

func compileOps(c *compiler, cmds []Command) ([]streamOp, error) {
	var ops []streamOp
	for _, cmd := range cmds {
		op, err := compileStreamOp(c, cmd)
		if err != nil {
			return nil, err
		}
		if op != nil {
			ops = append(ops, op)
		}
	}
	return ops, nil
}

func compileStreamOp(c *compiler, cmd Command) (streamOp, error) {
	switch x := cmd.(type) {
	case *FilterCmd:
		return compileFilter(c, x)
	case *FieldsCmd:
		return compileProjectOp(c, x.Items)
	case *DisplayCmd:
		return compileProjectOp(c, x.Items)
	case *ParseCmd:
		return compileParseOp(c, x)
	case *UnnestCmd:
		return compileUnnestOp(c, x)
	case *UnmaskCmd, *DiffCmd:
		return nil, nil
	}
	return nil, errAt(c.pl.q.Text, cmd.Pos(), "unsupported command")
}

type projectOp struct {
	slots []int
	fns   []evalFn
}

func compileProjectOp(c *compiler, items []Projection) (streamOp, error) {
	op := &projectOp{}
	for _, p := range items {
		var fn evalFn
		if f, ok := p.Expr.(*FieldRef); ok && f.Name == p.Name() {
			// A bare path into a JSON value is computed into its own column.
			if fn = c.pathField(f.Name); fn == nil {
				continue
			}
		} else {
			var err error
			if fn, err = c.compile(p.Expr); err != nil {
				return nil, err
			}
		}
		if !c.pl.read[p.Name()] {
			continue
		}
		op.slots = append(op.slots, c.pl.slotOf[p.Name()])
		op.fns = append(op.fns, fn)
	}
	if len(op.fns) == 0 {
		return nil, nil
	}
	return op, nil
}

func (o *projectOp) apply(b *batch, rc *rowCtx) *batch {
	tmp := make([]Value, len(o.fns))
	// Expressions may read the old lazy values, so unbind after evaluating.
	var written []bool
	if b.lazy != nil {
		written = make([]bool, b.ns)
		for _, s := range o.slots {
			written[s] = b.lazy[s] != nil
		}
	}
	for _, i := range b.sel {
		b.row(i, rc)
		// Evaluate all first: `fields a as b, b as a` reads the old values.
		for k, f := range o.fns {
			tmp[k] = f(rc)
		}
		for k, s := range o.slots {
			rc.vals[s] = tmp[k]
			if written != nil && written[s] {
				// The rest of this row's lazy reads must see the new value.
				rc.lazy = nil
			}
		}
	}
	for s, w := range written {
		if w {
			b.unbind(s)
		}
	}
	return b
}

type unnestOp struct {
	from evalFn
	into int
	nb   batch
}

func compileUnnestOp(c *compiler, x *UnnestCmd) (streamOp, error) {
	into, ok := c.pl.slotOf[x.Into]
	if !ok {
		into = -1
	}
	return &unnestOp{from: c.field(x.Field), into: into}, nil
}

// apply emits one row per list element; other values act as one-element lists.
func (o *unnestOp) apply(b *batch, rc *rowCtx) *batch {
	type item struct {
		row int32
		v   Value
	}
	var items []item
	b.materialize()
	for _, i := range b.sel {
		b.row(i, rc)
		v := o.from(rc)
		switch v.K {
		case KNull:
			continue
		case KJSON:
			var l []any
			d := json.NewDecoder(strings.NewReader(v.S))
			d.UseNumber()
			if err := d.Decode(&l); err == nil {
				for _, e := range l {
					items = append(items, item{i, jsonValue(e)})
				}
				continue
			}
		}
		items = append(items, item{i, v})
	}
	nb := &o.nb
	nb.reset(len(items), b.ns)
	for k, it := range items {
		copy(nb.vals[k*b.ns:(k+1)*b.ns], b.vals[int(it.row)*b.ns:int(it.row+1)*b.ns])
		if o.into >= 0 {
			nb.vals[k*b.ns+o.into] = it.v
		}
		nb.ts[k], nb.seq[k], nb.tgt[k] = b.ts[it.row], b.seq[it.row], b.tgt[it.row]
		nb.sel = append(nb.sel, int32(k))
	}
	return nb
}

// runBatch pushes a batch through the segment's operators into the barrier.
func (w *worker) runBatch(b *batch) {
	for _, op := range w.ops {
		if len(b.sel) == 0 {
			return
		}
		b = op.apply(b, &w.rc)
	}
	w.matched += int64(len(b.sel))
	if len(b.sel) > 0 {
		w.bw.consume(b, &w.rc)
	}
}

// workerPool hands each concurrent Scan callback its own worker.
type workerPool struct {
	mu    sync.Mutex
	free  []*worker
	all   []*worker
	newFn func() (*worker, error)
}

func (p *workerPool) get() (*worker, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		w := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return w, nil
	}
	p.mu.Unlock()
	w, err := p.newFn()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, w)
	p.mu.Unlock()
	return w, nil
}

func (p *workerPool) put(w *worker) {
	p.mu.Lock()
	p.free = append(p.free, w)
	p.mu.Unlock()
}

// execute runs the plan: the first segment in parallel over the sources'
// blocks, later segments on the rows the previous barrier produced.
func execute(ctx context.Context, env *execEnv, stats *Statistics, progress func(Statistics)) ([]record, error) {
	pl := env.pl
	seg0 := pl.segs[0]
	bar0, err := newBarrier(pl, seg0, true)
	if err != nil {
		return nil, err
	}
	scans, err := env.scans()
	if err != nil {
		return nil, err
	}
	wenv := env // the range being scanned
	// newWorker runs on scan goroutines: its err is its own, not execute's.
	newWorker := func() (*worker, error) {
		c := &compiler{pl: pl}
		w := &worker{env: wenv}
		w.rc.env = wenv
		var err error
		if w.ops, err = compileOps(c, seg0.ops); err != nil {
			return nil, err
		}
		if w.bw, err = bar0.newWorker(c); err != nil {
			return nil, err
		}
		w.base = newBaseLoaders(pl)
		return w, nil
	}
	// Compile once up front so errors surface even when there is no data.
	first, err := newWorker()
	if err != nil {
		return nil, err
	}
	pool := &workerPool{newFn: newWorker, all: []*worker{first}, free: []*worker{first}}
	var scanned, matched, bytes atomic.Int64
	var lastProgress atomic.Int64
	for _, sc := range scans {
		ti, t := sc.ti, sc.t
		if sc.env != wenv {
			// The previous range's scan is over: its workers move on.
			wenv = sc.env
			for _, w := range pool.all {
				w.env, w.rc.env = wenv, wenv
			}
		}
		err := scanTarget(ctx, sc.env, t, func(blk *logstore.Block) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			w, err := pool.get()
			if err != nil {
				return err
			}
			s0, m0, b0 := w.scanned, w.matched, w.bytes
			w.processBlock(blk, int32(ti))
			if err := w.err; err != nil {
				w.err = nil
				pool.put(w)
				return err
			}
			scanned.Add(w.scanned - s0)
			matched.Add(w.matched - m0)
			bytes.Add(w.bytes - b0)
			pool.put(w)
			if progress != nil {
				now := time.Now().UnixMilli()
				if last := lastProgress.Load(); now-last > 250 && lastProgress.CompareAndSwap(last, now) {
					progress(Statistics{RecordsScanned: float64(scanned.Load()), RecordsMatched: float64(matched.Load()), BytesScanned: float64(bytes.Load())})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	stats.RecordsScanned = float64(scanned.Load())
	stats.RecordsMatched = float64(matched.Load())
	stats.BytesScanned = float64(bytes.Load())
	ws := make([]barrierWorker, len(pool.all))
	for i, w := range pool.all {
		ws[i] = w.bw
	}
	// Rows of a stats command stream straight into the next segment
	// instead of being materialised (stats … | sort … | limit keeps k rows).
	var src rowSource
	if sb, ok := bar0.(*statsBarrier); ok && len(pl.segs) > 1 {
		src = func(emit func(*record)) error { return sb.stream(ws, emit) }
	} else {
		recs, err := bar0.finish(ws, int(matched.Load()))
		if err != nil || len(pl.segs) == 1 {
			return recs, err
		}
		src = recordsSource(recs)
	}
	var recs []record
	for i, seg := range pl.segs[1:] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		recs, err = runSerial(env, seg, src)
		if err != nil {
			return nil, err
		}
		if i+2 < len(pl.segs) {
			src = recordsSource(recs)
		}
	}
	return recs, nil
}

// scanTarget streams a target's blocks to fn.
func scanTarget(ctx context.Context, env *execEnv, t Target, fn func(blk *logstore.Block) error) error {
	pl := env.pl
	q := logstore.ScanQuery{Group: t.Group, Start: env.start, End: env.end, Need: pl.need, Preds: pl.preds, TokenCols: pl.tokenCols, DictCols: pl.dictCols}
	if env.end < logstore.MaxTime {
		q.End = env.end + 1
	}
	return t.Source.Scan(ctx, q, fn)
}

// rowSource emits rows in order; emit must copy what it keeps.
type rowSource func(emit func(*record)) error

func recordsSource(recs []record) rowSource {
	return func(emit func(*record)) error {
		for i := range recs {
			emit(&recs[i])
		}
		return nil
	}
}

// runSerial runs a later segment over the previous barrier's rows.
func runSerial(env *execEnv, seg segment, src rowSource) ([]record, error) {
	pl := env.pl
	c := &compiler{pl: pl}
	bar, err := newBarrier(pl, seg, false)
	if err != nil {
		return nil, err
	}
	w := &worker{env: env}
	w.rc.env = env
	if w.ops, err = compileOps(c, seg.ops); err != nil {
		return nil, err
	}
	if w.bw, err = bar.newWorker(c); err != nil {
		return nil, err
	}
	ns := len(pl.names)
	const chunk = 4096
	b := &batch{}
	b.reset(chunk, ns)
	b.tk = make([]int64, chunk)
	n, total := 0, 0
	flush := func() {
		if n == 0 {
			return
		}
		b.n = n
		b.sel = b.sel[:0]
		for i := range n {
			b.sel = append(b.sel, int32(i))
		}
		w.runBatch(b)
		n = 0
	}
	err = src(func(r *record) {
		copy(b.vals[n*ns:(n+1)*ns], r.vals)
		b.ts[n], b.seq[n], b.tgt[n], b.tk[n] = r.ts, r.seq, r.tgt, r.tk
		n++
		total++
		if n == chunk {
			flush()
		}
	})
	if err != nil {
		return nil, err
	}
	flush()
	return bar.finish([]barrierWorker{w.bw}, total)
}
