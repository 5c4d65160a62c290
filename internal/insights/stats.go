package insights

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// statsBarrier aggregates rows by the `by` keys with a hash table per
// worker; workers' tables are merged at the end.
type statsBarrier struct {
	pl       *plan
	nextSort bool
	// maxRows > 0: only the first maxRows groups in stats order are used
	// (the rest of the query is just a row cap).
	maxRows int
	cmd     *StatsCmd
	// noCompact: aggregate on the general path only (tests compare the two).
	noCompact bool
	calls     []*CallExpr // distinct aggregate calls, by String()
	index     map[*CallExpr]int
}

func newStatsBarrier(pl *plan, s *StatsCmd, nextSort bool) (barrier, error) {
	sb := &statsBarrier{pl: pl, cmd: s, index: map[*CallExpr]int{}, nextSort: nextSort, noCompact: !compactAggregation}
	byText := map[string]int{}
	for _, p := range s.Aggs {
		walkExpr(p.Expr, func(e Expr) {
			c, ok := e.(*CallExpr)
			if !ok || !aggregateNames[strings.ToLower(c.Name)] {
				return
			}
			key := strings.ToLower(c.String())
			i, ok := byText[key]
			if !ok {
				i = len(sb.calls)
				byText[key] = i
				sb.calls = append(sb.calls, c)
			}
			sb.index[c] = i
		})
	}
	return sb, nil
}

type aggSpec struct {
	name  string // lower case
	arg   evalFn // nil for count(*)
	argSl int    // slot when the argument is a plain field, else -1
	make  func() aggregator
}

// p0 strips parentheses.
func p0(e Expr) Expr {
	for {
		p, ok := e.(*ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func (sb *statsBarrier) compileAggs(c *compiler) ([]aggSpec, error) {
	var specs []aggSpec
	for _, call := range sb.calls {
		name := strings.ToLower(call.Name)
		sp := aggSpec{argSl: -1, name: name}
		nargs := 1
		if name == "pct" {
			nargs = 2
		}
		if name == "count" && (call.Star || len(call.Args) == 0) {
			sp.make = func() aggregator { return &countAgg{} }
			specs = append(specs, sp)
			continue
		}
		if call.Star || len(call.Args) != nargs {
			return nil, c.errAt(call, "wrong number of arguments to %s()", call.Name)
		}
		f, err := c.compile(call.Args[0])
		if err != nil {
			return nil, err
		}
		sp.arg = f
		if fr, ok := p0(call.Args[0]).(*FieldRef); ok && c.pathField(fr.Name) == nil {
			if s, ok := c.pl.slotOf[fr.Name]; ok {
				sp.argSl = s
			}
		}
		switch name {
		case "count":
			sp.make = func() aggregator { return &countAgg{field: true} }
		case "count_distinct":
			sp.make = func() aggregator { return &distinctAgg{} }
		case "sum":
			sp.make = func() aggregator { return &sumAgg{} }
		case "avg":
			sp.make = func() aggregator { return &avgAgg{} }
		case "min":
			sp.make = func() aggregator { return &minMaxAgg{sign: -1} }
		case "max":
			sp.make = func() aggregator { return &minMaxAgg{sign: 1} }
		case "sortsfirst":
			sp.make = func() aggregator { return &minMaxAgg{sign: -1, natural: true} }
		case "sortslast":
			sp.make = func() aggregator { return &minMaxAgg{sign: 1, natural: true} }
		case "stddev":
			sp.make = func() aggregator { return &stddevAgg{} }
		case "earliest":
			sp.make = func() aggregator { return &timeAgg{latest: false} }
		case "latest":
			sp.make = func() aggregator { return &timeAgg{latest: true} }
		case "pct":
			k, ok := constOf(call.Args[1])
			p, isNum := k.Float()
			if !ok || !isNum || p < 0 || p > 100 {
				return nil, c.errAt(call.Args[1], "pct() needs a percentile between 0 and 100")
			}
			sp.make = func() aggregator { return &pctAgg{p: p} }
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

type statsWorker struct {
	sb    *statsBarrier
	byFns []evalFn
	bySl  []int   // slot of a plain field key, else -1
	binP  []int64 // period of a bin() key over fixed units, else 0
	specs []aggSpec
	// countOnly: every aggregate is count(*).
	countOnly bool
	// ct: the compact aggregation (stats_compact.go) while it lasts.
	ct *compactAggs
	t  *groupTable
	kv []Value
	// per-batch scratch
	seen   []bool
	gen    uint32 // batch number, stamps dcache entries
	dcache [][]Value
	dstamp [][]uint32
	gids   []int32
	argv   []Value
	kvs    []Value
	kc     []keyCache // per key, for fastGroupIDs
	// packed keys of the batch (fastGroupIDs): table, words
	pIdx   []int32
	pA, pB []uint64
	sink   uint64 // keeps the slot-touching loads alive
}

func (sb *statsBarrier) newWorker(c *compiler) (barrierWorker, error) {
	w := &statsWorker{sb: sb}
	for _, p := range sb.cmd.By {
		f, err := c.compile(p.Expr)
		if err != nil {
			return nil, err
		}
		w.byFns = append(w.byFns, f)
		sl := -1
		if fr, ok := p.Expr.(*FieldRef); ok {
			if s, ok := sb.pl.slotOf[fr.Name]; ok {
				sl = s
			}
		}
		w.bySl = append(w.bySl, sl)
		var per int64
		if call, ok := p0(p.Expr).(*CallExpr); ok && strings.EqualFold(call.Name, "bin") && !sb.pl.defined["@timestamp"] {
			if d, ok := call.Args[0].(*DurationLit); ok {
				if u, ok := unitMillis[d.Unit]; ok && d.Unit != "w" {
					per = u * d.N
				}
			}
		}
		w.binP = append(w.binP, per)
	}
	specs, err := sb.compileAggs(c)
	if err != nil {
		return nil, err
	}
	w.specs = specs
	w.countOnly = true
	for _, sp := range specs {
		w.countOnly = w.countOnly && sp.arg == nil
	}
	w.t = newGroupTable(len(sb.cmd.By), specs)
	w.kv = make([]Value, len(sb.cmd.By))
	if w.compactEligible() && !sb.noCompact {
		w.ct = newCompactAggs(specs)
	}
	// Compile the items too, so that errors in them surface before the scan.
	if _, err := sb.compileItems(c, new([]Value)); err != nil {
		return nil, err
	}
	return w, nil
}

// consume aggregates a batch column by column: key values for all rows,
// then group ids, then each aggregate's input and update loop. Keys and
// arguments that are fields bound to token columns, or bin() over the
// block's timestamps, are read in tight loops without per-row closures.
func (w *statsWorker) consume(b *batch, rc *rowCtx) {
	t := w.t
	t.intern.reset()
	n, nby := len(b.sel), len(w.kv)
	if cap(w.gids) < n {
		w.gids, w.argv, w.kvs = make([]int32, n), make([]Value, n), make([]Value, n*max(nby, 1))
	}
	if w.ct != nil {
		if w.compactBatch(b) {
			return
		}
		w.dropCompact()
	}
	if nby == 0 && w.countOnly {
		// stats count(*) without by: one add per batch, not per row.
		if t.n == 0 {
			t.lookup(nil)
		}
		for _, a := range t.aggs {
			a.(*countAgg).n[0] += int64(n)
		}
		return
	}
	gids, argv, kvs := w.gids[:n], w.argv[:n], w.kvs[:n*nby]
	w.gen++
	if !w.fastGroupIDs(b, gids) {
		w.slowGroupIDs(b, rc, gids, kvs)
	}
	for a, sp := range w.specs {
		if sp.arg == nil {
			addBatch(t.aggs[a], gids, nil, b)
			continue
		}
		if d, ok := t.aggs[a].(*distinctAgg); ok && nby == 0 && sp.argSl >= 0 && b.lazy != nil && b.lazy[sp.argSl] != nil && b.lazy[sp.argSl].c != nil {
			w.distinctColumn(d, b, b.lazy[sp.argSl])
			continue
		}
		if x, ok := t.aggs[a].(*sumAgg); ok && sp.argSl >= 0 && b.lazy != nil && b.lazy[sp.argSl] != nil && b.lazy[sp.argSl].c != nil && b.lazy[sp.argSl].c.Kind == logstore.KindInt {
			sumInts(x, gids, b.lazy[sp.argSl].c, b.sel)
			continue
		}
		w.fillCol(b, rc, sp.argSl, sp.arg, 0, false, argv, 1, 0)
		addBatch(t.aggs[a], gids, argv, b)
	}
}

// slowGroupIDs computes every key as a Value for all selected rows, then
// looks the tuples up.
func (w *statsWorker) slowGroupIDs(b *batch, rc *rowCtx, gids []int32, kvs []Value) {
	t, nby := w.t, len(w.kv)
	for k := range nby {
		if s := w.bySl[k]; s >= 0 && b.lazy != nil && b.lazy[s] != nil && b.lazy[s].c != nil && b.lazy[s].c.Kind == logstore.KindString {
			w.dictKeys(k, b.lazy[s].c, b, kvs, nby)
			continue
		}
		w.fillCol(b, rc, w.bySl[k], w.byFns[k], w.binP[k], true, kvs, nby, k)
	}
	if nby == 0 && t.n == 0 {
		t.lookup(nil)
	}
	prev := int32(-1)
	for j := range b.sel {
		var g int32
		if nby > 0 {
			// Runs of equal keys (time buckets, sorted data) skip the hash.
			if kv := kvs[j*nby : (j+1)*nby]; prev >= 0 && slices.Equal(kv, kvs[(j-1)*nby:j*nby]) {
				g = prev
			} else {
				g = t.lookup(kv)
			}
			prev = g
		}
		gids[j] = g
	}
}

// distinctColumn feeds count_distinct (without by) straight from a token
// column: each dictionary code once per block, ints and IPs unboxed.
func (w *statsWorker) distinctColumn(d *distinctAgg, b *batch, l *lazyCol) {
	c := l.c
	if c.Kind == logstore.KindString {
		if cap(w.seen) < len(c.Dict) {
			w.seen = make([]bool, len(c.Dict))
		}
		seen := w.seen[:len(c.Dict)]
		clear(seen)
		for _, i := range b.sel {
			code := c.Codes[i]
			if !seen[code] {
				seen[code] = true
				d.add(0, Value{K: KStr, S: c.Dict[code]}, nil)
			}
		}
		return
	}
	kind, ints := KInt, c.Ints
	if c.Kind == logstore.KindIPv4 || c.Kind == logstore.KindIP {
		kind, ints = KIP, nil
	}
	if d.sets[0] == nil {
		d.sets[0] = &distinctSet{}
	}
	ds := d.sets[0]
	if ds.fixed[kind] == nil {
		ds.fixed[kind] = newU64Table()
	}
	tab := ds.fixed[kind]
	for _, i := range b.sel {
		if c.Null != nil && c.Null[i] {
			d.add(0, dashVal, nil)
			continue
		}
		if c.Is6 != nil && c.Is6[i] {
			d.add(0, strVal(c.String(int(i))), nil)
			continue
		}
		var u uint64
		if ints != nil {
			u = uint64(ints[i])
		} else {
			u = uint64(c.IPs[i])
		}
		if _, ok := tab.get(u); !ok {
			tab.put(u, 0)
		}
	}
}

// dictKeys fills key k from a text token column, normalising each
// dictionary entry once per block rather than once per row.
func (w *statsWorker) dictKeys(k int, c *logstore.TokenColumn, b *batch, dst []Value, stride int) {
	for len(w.dcache) <= k {
		w.dcache, w.dstamp = append(w.dcache, nil), append(w.dstamp, nil)
	}
	if len(w.dcache[k]) < len(c.Dict) {
		w.dcache[k], w.dstamp[k] = make([]Value, len(c.Dict)), make([]uint32, len(c.Dict))
	}
	cache, stamp, gen := w.dcache[k], w.dstamp[k], w.gen
	for j, i := range b.sel {
		code := c.Codes[i]
		if stamp[code] != gen {
			cache[code], stamp[code] = normKey(Value{K: KStr, S: c.Dict[code]}), gen
		}
		dst[j*stride+k] = cache[code]
	}
}

// fillCol evaluates one key or argument for every selected row into
// dst[j*stride+off].
func (w *statsWorker) fillCol(b *batch, rc *rowCtx, slot int, fn evalFn, binP int64, norm bool, dst []Value, stride, off int) {
	switch {
	case slot >= 0 && b.lazy != nil && b.lazy[slot] != nil:
		l := b.lazy[slot]
		for j, i := range b.sel {
			v := l.value(i)
			if norm && v.K == KStr {
				v = normKey(v)
			}
			dst[j*stride+off] = v
		}
	case slot >= 0:
		for j, i := range b.sel {
			v := b.vals[int(i)*b.ns+slot]
			if norm {
				v = normKey(v)
			}
			dst[j*stride+off] = v
		}
	case binP > 0 && b.blk != nil:
		for j, i := range b.sel {
			dst[j*stride+off] = Value{K: KTime, I: floorDiv(b.ts[i], binP) * binP}
		}
	default:
		for j, i := range b.sel {
			b.row(i, rc)
			v := fn(rc)
			if norm {
				v = normKey(v)
			}
			dst[j*stride+off] = v
		}
	}
}

// addBatch updates an aggregate for a batch; count and sum loops are
// devirtualised.
func addBatch(a aggregator, gids []int32, argv []Value, b *batch) {
	switch x := a.(type) {
	case *countAgg:
		if argv == nil || !x.field {
			for _, g := range gids {
				x.n[g]++
			}
			return
		}
		for j, g := range gids {
			if argv[j].K != KNull {
				x.n[g]++
			}
		}
	case *sumAgg:
		for j, g := range gids {
			v := argv[j]
			if s := &x.s[g]; v.K == KInt && !s.flt {
				if r := s.i + v.I; (r > s.i) == (v.I > 0) {
					s.i, s.has = r, true
					continue
				}
			}
			x.add(g, v, nil)
		}
	default:
		var rc rowCtx
		for j, g := range gids {
			i := b.sel[j]
			rc.ts, rc.seq = b.ts[i], b.seq[i]
			v := null
			if argv != nil {
				v = argv[j]
			}
			a.add(g, v, &rc)
		}
	}
}

// normKey gives every logical key value one representation so that text
// and typed paths group together.
func normKey(v Value) Value {
	switch v.K {
	case KNum:
		f := v.num()
		if f == math.Trunc(f) && math.Abs(f) < 1e18 {
			return intVal(int64(f))
		}
	case KStr:
		if len(v.S) > 0 && len(v.S) <= 19 && (isDigit(v.S[0]) || v.S[0] == '-') {
			return classify(v.S)
		}
	}
	return v
}

type tsSeq struct {
	ts  int64
	seq uint64
}

type key2 struct {
	a, b   int64
	ka, kb Kind
}

// groupTable maps key tuples to group ids: one fixed-width key (int, IP,
// time) or two that fit 32 bits (IPv4 pairs) pack into a uint64 looked up
// in a pointer-free table per combination of kinds; other tuples use a
// struct or byte-encoded key. Keys are stored column-wise, text only when
// a key has text, so the garbage collector has little to scan.
type groupTable struct {
	nby int
	n   int32
	m64 [64]*u64Table
	// m128 packs up to four keys of 32 bits (IPv4, small ints, interned
	// text) into 128 bits, one table per combination of kinds.
	m128    map[uint32]*u128Table
	lastSig uint32
	last128 *u128Table
	intern  interner
	m2      map[key2]int32
	ms      map[string]int32
	kI      []int64 // nby per group
	kK      []Kind
	aggs    []aggregator
	buf     []byte
	sink    uint64 // keeps cache-warming loads alive
}

func newGroupTable(nby int, specs []aggSpec) *groupTable {
	t := &groupTable{nby: nby, m2: map[key2]int32{}, ms: map[string]int32{}}
	for _, sp := range specs {
		t.aggs = append(t.aggs, sp.make())
	}
	return t
}

func fixedKind(k Kind) bool { return k == KInt || k == KIP || k == KTime || k == KBool || k == KNull }

func (t *groupTable) lookup(kv []Value) int32 {
	if len(kv) <= 2 {
		var k key2
		ok := true
		if len(kv) > 0 {
			ok = fixedKind(kv[0].K)
			k.a, k.ka = kv[0].I, kv[0].K
		}
		if len(kv) > 1 {
			ok = ok && fixedKind(kv[1].K)
			k.b, k.kb = kv[1].I, kv[1].K
		}
		if ok && (len(kv) < 2 || uint64(k.a)>>32 == 0 && uint64(k.b)>>32 == 0) {
			u := uint64(k.a)
			if len(kv) == 2 {
				u = u<<32 | uint64(k.b)
			}
			m := t.m64[int(k.ka)*8+int(k.kb)]
			if m == nil {
				m = newU64Table()
				t.m64[int(k.ka)*8+int(k.kb)] = m
			}
			if g, found := m.get(u); found {
				return g
			}
			g := t.add(kv)
			m.put(u, g)
			return g
		}
		if ok {
			if g, found := t.m2[k]; found {
				return g
			}
			g := t.add(kv)
			t.m2[k] = g
			return g
		}
	}
	if len(kv) <= 4 {
		if g, ok := t.lookup128(kv); ok {
			return g
		}
	}
	t.buf = encodeKey(t.buf[:0], kv)
	if g, found := t.ms[string(t.buf)]; found {
		return g
	}
	g := t.add(kv)
	t.ms[string(t.buf)] = g
	return g
}

// lookup128 handles tuples of up to four values that fit 32 bits each;
// ok is false for other tuples.
func (t *groupTable) lookup128(kv []Value) (int32, bool) {
	var w [4]uint32
	var sig uint32
	for i, v := range kv {
		switch {
		case v.K == KStr:
			w[i] = t.intern.get(v.S)
		case fixedKind(v.K) && uint64(v.I)>>32 == 0:
			w[i] = uint32(v.I)
		default:
			return 0, false
		}
		sig |= uint32(v.K) << (4 * i)
	}
	sig |= uint32(len(kv)) << 16
	m := t.last128
	if m == nil || sig != t.lastSig {
		m = t.table128(sig)
		t.lastSig, t.last128 = sig, m
	}
	a, b := uint64(w[0])<<32|uint64(w[1]), uint64(w[2])<<32|uint64(w[3])
	if g, found := m.get(a, b); found {
		return g, true
	}
	g := t.add(kv)
	m.put(a, b, g)
	return g, true
}

// table128 is the 128-bit table of kind signature sig, made on first use.
func (t *groupTable) table128(sig uint32) *u128Table {
	if t.m128 == nil {
		t.m128 = map[uint32]*u128Table{}
	}
	m := t.m128[sig]
	if m == nil {
		m = newU128Table()
		t.m128[sig] = m
	}
	return m
}

func encodeKey(b []byte, kv []Value) []byte {
	for _, v := range kv {
		b = append(b, byte(v.K))
		switch v.K {
		case KStr, KJSON:
			b = binary.AppendUvarint(b, uint64(len(v.S)))
			b = append(b, v.S...)
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(v.I))
		}
	}
	return b
}

func (t *groupTable) add(kv []Value) int32 {
	g := t.n
	t.n++
	for _, v := range kv {
		i := v.I
		if v.K == KStr || v.K == KJSON {
			// Text is kept once, in the interner; the key holds its id.
			i = int64(t.intern.get(v.S))
		}
		t.kI = append(t.kI, i)
		t.kK = append(t.kK, v.K)
	}
	for _, a := range t.aggs {
		a.grow()
	}
	return g
}

// keyAt is group g's key value k.
func (t *groupTable) keyAt(g int32, k int) Value {
	o := int(g)*t.nby + k
	v := Value{K: t.kK[o], I: t.kI[o]}
	if v.K == KStr || v.K == KJSON {
		v.S, v.I = t.intern.strs[v.I], 0
	}
	return v
}

// key writes group g's key values into dst (len nby).
func (t *groupTable) key(g int32, dst []Value) []Value {
	o := int(g) * t.nby
	for k := range dst {
		dst[k] = Value{K: t.kK[o+k], I: t.kI[o+k]}
		if dst[k].K == KStr || dst[k].K == KJSON {
			dst[k].S, dst[k].I = t.intern.strs[dst[k].I], 0
		}
	}
	return dst
}

// stream merges the workers' tables and emits one row per group in the
// stats order; emit must copy what it keeps.
func (sb *statsBarrier) stream(ws []barrierWorker, emit func(*record)) error {
	var c *compiler
	kbuf := make([]Value, len(sb.cmd.By))
	var top *topFilter
	if k, agg, desc, ok := sb.sortTop(); ok && preselectSortTop {
		top = &topFilter{k: k, agg: agg, desc: desc}
	}
	t := mergeTables(ws, top)
	if t == nil {
		return nil
	}
	// Without by, stats always yields one row.
	if t.nby == 0 && t.n == 0 {
		t.lookup(nil)
	}
	var timeKeys []int
	for k, p := range sb.cmd.By {
		if isTimeExpr(p.Expr) {
			timeKeys = append(timeKeys, k)
		}
	}
	order := make([]int32, t.n)
	for i := range order {
		order[i] = int32(i)
	}
	if k, agg, desc, ok := sb.sortTop(); ok && k < len(order) && preselectSortTop {
		order = preselectTop(t, order, k, agg, desc)
	}
	// Groups come out newest time bucket first when a key is a time
	// (bin, datefloor), then by the other keys in ascending sort order. AWS
	// leaves this order unspecified; keying it on values rather than on
	// each group's newest event spares a random memory access per row. A
	// sort right after breaks its ties the same way, so the ordering is
	// skipped then.
	if !sb.nextSort {
		isTime := make([]bool, t.nby)
		for _, k := range timeKeys {
			isTime[k] = true
		}
		cmp := func(a, b int32) int {
			oa, ob := int(a)*t.nby, int(b)*t.nby
			for _, k := range timeKeys {
				if c := cmpInt(t.kI[ob+k], t.kI[oa+k]); c != 0 {
					return c
				}
			}
			for k := range t.nby {
				if isTime[k] {
					continue
				}
				// Two IPv4 addresses compare as numbers (sortCompare's
				// rule), without decoding the keys.
				if t.kK[oa+k] == KIP && t.kK[ob+k] == KIP {
					if c := cmpInt(t.kI[oa+k], t.kI[ob+k]); c != 0 {
						return c
					}
					continue
				}
				switch x, y := t.keyAt(a, k), t.keyAt(b, k); {
				case x.K == KNull && y.K == KNull:
				case x.K == KNull:
					return 1
				case y.K == KNull:
					return -1
				default:
					if c := sortCompare(x, y); c != 0 {
						return c
					}
				}
			}
			return 0
		}
		if k := sb.maxRows; k > 0 && k < len(order) {
			order = topK(order, k, cmp)
		}
		slices.SortFunc(order, cmp)
	}
	c = &compiler{pl: sb.pl}
	cur := make([]Value, len(sb.calls))
	items, err := sb.compileItems(c, &cur)
	if err != nil {
		return err
	}
	ns := len(sb.pl.names)
	bySlot := make([]int, len(sb.cmd.By))
	for k, p := range sb.cmd.By {
		bySlot[k] = slotOr(sb.pl, p.Name())
	}
	itemSlot := make([]int, len(sb.cmd.Aggs))
	for k, p := range sb.cmd.Aggs {
		itemSlot[k] = slotOr(sb.pl, p.Name())
	}
	var r record
	r.vals = make([]Value, ns)
	rc := &rowCtx{}
	for i, g := range order {
		r.ord = i
		if len(timeKeys) > 0 {
			r.tk = t.kI[int(g)*t.nby+timeKeys[0]]
		}
		t.key(g, kbuf)
		for k, s := range bySlot {
			if s >= 0 {
				r.vals[s] = kbuf[k]
			}
		}
		for a := range cur {
			cur[a] = t.aggs[a].result(g)
		}
		rc.vals, rc.ts, rc.seq = r.vals, r.ts, r.seq
		for k, s := range itemSlot {
			v := items[k](rc)
			if s >= 0 {
				r.vals[s] = v
			}
		}
		emit(&r)
	}
	return nil
}

// sortTop reports whether the rest of the query starts with `sort <item>
// [asc|desc]` kept to k rows, nothing before it, where the item is one
// aggregate call (agg): then only groups that can be among the k need
// emitting (`stats sum(bytes) as b by … | sort b desc | limit 10`).
func (sb *statsBarrier) sortTop() (k, agg int, desc, ok bool) {
	for _, seg := range sb.pl.segs {
		if seg.prevStats != sb.cmd {
			continue
		}
		st, isSort := seg.barrier.(*SortCmd)
		if !isSort || len(seg.ops) != 0 || seg.limit <= 0 || len(st.Keys) != 1 {
			return 0, 0, false, false
		}
		fr, isField := st.Keys[0].Expr.(*FieldRef)
		if !isField {
			return 0, 0, false, false
		}
		for _, p := range sb.cmd.By {
			if p.Name() == fr.Name {
				return 0, 0, false, false
			}
		}
		for _, p := range sb.cmd.Aggs {
			if p.Name() != fr.Name {
				continue
			}
			call, isCall := p0(p.Expr).(*CallExpr)
			if !isCall {
				return 0, 0, false, false
			}
			i, found := sb.index[call]
			if !found {
				return 0, 0, false, false
			}
			desc = st.Keys[0].Desc
			if !st.Keys[0].Dir {
				desc = !SortAscendingByDefault
			}
			return seg.limit, i, desc, true
		}
		return 0, 0, false, false
	}
	return 0, 0, false, false
}

// preselectSortTop enables preselectTop; tests compare with it off.
var preselectSortTop = true

// preselectTop keeps, in their order, the groups whose aggregate agg is
// at least as good as the k-th best (ties included: the sort breaks them
// by the group keys), as sortWorker.less orders its first key.
func preselectTop(t *groupTable, order []int32, k, agg int, desc bool) []int32 {
	a := t.aggs[agg]
	cmp := func(x, y int32) int {
		xv, yv := a.result(x), a.result(y)
		switch {
		case xv.K == KNull && yv.K == KNull:
			return 0
		case xv.K == KNull:
			return 1
		case yv.K == KNull:
			return -1
		}
		c := sortCompare(xv, yv)
		if desc {
			c = -c
		}
		return c
	}
	best := topK(order, k, cmp)
	worst := best[0]
	for _, g := range best[1:] {
		if cmp(g, worst) > 0 {
			worst = g
		}
	}
	out := order[:0]
	for _, g := range order {
		if cmp(g, worst) <= 0 {
			out = append(out, g)
		}
	}
	return out
}

func (sb *statsBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	var recs []record
	err := sb.stream(ws, func(r *record) {
		c := *r
		c.vals = slices.Clone(r.vals)
		recs = append(recs, c)
	})
	return recs, err
}

func slotOr(pl *plan, name string) int {
	if s, ok := pl.slotOf[name]; ok {
		return s
	}
	return -1
}

// mergeTables combines the workers' group tables into the first one.
// (A merge partitioned over goroutines was tried: re-inserting every
// group into fresh partition tables costs more CPU than it saves on two
// cores.)
func mergeTables(ws []barrierWorker, top *topFilter) *groupTable {
	if len(ws) == 0 {
		return nil
	}
	if t := mergeCompact(ws, top); t != nil {
		return t
	}
	t := ws[0].(*statsWorker).t
	kbuf := make([]Value, t.nby)
	for _, w := range ws[1:] {
		t.intern.reset()
		mergeInto(t, w.(*statsWorker).t, kbuf)
	}
	return t
}

// mergeInto adds o's groups into t, in o's group order so that o's keys
// and aggregate states are read sequentially. Keys that lookup packs are
// packed from o's stored keys (interned text ids translated to t's) and
// probed in chunks: keys first, then one pass loading the target slots so
// that their cache misses overlap, then the probes, then each aggregate's
// merge loop.
func mergeInto(t, o *groupTable, kbuf []Value) {
	xlat := make([]int64, len(o.intern.strs))
	for i := range xlat {
		xlat[i] = -1
	}
	tr := func(id int64) uint32 {
		if xlat[id] < 0 {
			xlat[id] = int64(t.intern.get(o.intern.strs[id]))
		}
		return uint32(xlat[id])
	}
	const chunk = 512
	var (
		tab     [chunk]int
		ka, kb  [chunk]uint64
		ng      [chunk]int32
		m128    *u128Table
		m128Sig = ^uint32(0)
	)
	for lo := int32(0); lo < o.n; lo += chunk {
		n := int(min(o.n-lo, chunk))
		for j := range n {
			tab[j], ka[j], kb[j] = o.packedKey(lo+int32(j), tr)
		}
		var sink uint64
		for j := range n {
			switch ti := tab[j]; {
			case ti < 0:
			case ti < 1<<20:
				if m := t.m64[ti]; m != nil {
					sink += m.slots[m.hash(ka[j])].key
				}
			default:
				if m := t.m128[uint32(ti&^(1<<20))]; m != nil {
					sink += m.slots[m.hash(ka[j], kb[j])].a
				}
			}
		}
		t.sink += sink
		for j := range n {
			og := lo + int32(j)
			switch ti := tab[j]; {
			case ti < 0:
				ng[j] = t.lookup(o.key(og, kbuf))
			case ti < 1<<20:
				m := t.m64[ti]
				if m == nil {
					m = newU64Table()
					t.m64[ti] = m
				}
				g, found := m.get(ka[j])
				if !found {
					g = t.add(o.key(og, kbuf))
					m.put(ka[j], g)
				}
				ng[j] = g
			default:
				if sig := uint32(ti &^ (1 << 20)); sig != m128Sig {
					m128, m128Sig = t.table128(sig), sig
				}
				g, found := m128.get(ka[j], kb[j])
				if !found {
					g = t.add(o.key(og, kbuf))
					m128.put(ka[j], kb[j], g)
				}
				ng[j] = g
			}
		}
		for a := range t.aggs {
			ta, oa := t.aggs[a], o.aggs[a]
			for j := range n {
				ta.merge(ng[j], oa, lo+int32(j))
			}
		}
	}
}

// packedKey is the table and packed key lookup uses for group g's stored
// key (tab < 0: neither packed table; tab ≥ 1<<20: the 128-bit table of
// signature tab-1<<20). tr translates interned text ids.
func (t *groupTable) packedKey(g int32, tr func(int64) uint32) (tab int, a, b uint64) {
	nby := t.nby
	if nby == 0 || nby > 4 {
		return -1, 0, 0
	}
	kI, kK := t.kI[int(g)*nby:int(g+1)*nby], t.kK[int(g)*nby:int(g+1)*nby]
	fixed, small := true, true
	for k := range nby {
		fixed = fixed && fixedKind(kK[k])
		small = small && uint64(kI[k])>>32 == 0
	}
	if fixed && nby <= 2 {
		if nby == 1 {
			return int(kK[0]) * 8, uint64(kI[0]), 0
		}
		if small {
			return int(kK[0])*8 + int(kK[1]), uint64(kI[0])<<32 | uint64(kI[1]), 0
		}
		return -1, 0, 0
	}
	var w [4]uint32
	sig := uint32(nby) << 16
	for k := range nby {
		switch {
		case kK[k] == KStr:
			w[k] = tr(kI[k])
		case fixedKind(kK[k]) && uint64(kI[k])>>32 == 0:
			w[k] = uint32(kI[k])
		default:
			return -1, 0, 0
		}
		sig |= uint32(kK[k]) << (4 * k)
	}
	return 1<<20 | int(sig), uint64(w[0])<<32 | uint64(w[1]), uint64(w[2])<<32 | uint64(w[3])
}

// topK returns the k smallest of order under cmp, unordered, in
// O(n log k) with a max-heap of the k best so far.
func topK(order []int32, k int, cmp func(a, b int32) int) []int32 {
	h := append([]int32(nil), order[:k]...)
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && cmp(h[r], h[l]) > 0 {
				l = r
			}
			if cmp(h[l], h[i]) <= 0 {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, g := range order[k:] {
		if cmp(g, h[0]) < 0 {
			h[0] = g
			down(0)
		}
	}
	return h
}

// compileItems compiles the stats items with each aggregate call reading
// the group's result from *cur.
func (sb *statsBarrier) compileItems(c *compiler, cur *[]Value) ([]evalFn, error) {
	c.agg = func(call *CallExpr) (evalFn, bool) {
		i, ok := sb.index[call]
		if !ok {
			return nil, false
		}
		return func(*rowCtx) Value { return (*cur)[i] }, true
	}
	defer func() { c.agg = nil }()
	var items []evalFn
	for _, p := range sb.cmd.Aggs {
		f, err := c.compile(p.Expr)
		if err != nil {
			return nil, err
		}
		items = append(items, f)
	}
	return items, nil
}

func isTimeExpr(e Expr) bool {
	switch x := e.(type) {
	case *ParenExpr:
		return isTimeExpr(x.X)
	case *CallExpr:
		switch strings.ToLower(x.Name) {
		case "bin", "datefloor", "dateceil", "frommillis":
			return true
		}
	case *FieldRef:
		return x.Name == "@timestamp" || x.Name == "@ingestionTime"
	}
	return false
}

// Aggregators keep one state per group in slices indexed by group id.
type aggregator interface {
	grow()
	add(g int32, v Value, rc *rowCtx)
	merge(g int32, o aggregator, og int32)
	result(g int32) Value
}

// countAgg is count(*), or count(field): rows where the field is present.
type countAgg struct {
	field bool
	n     []int64
}

func (a *countAgg) grow() { a.n = append(a.n, 0) }
func (a *countAgg) add(g int32, v Value, _ *rowCtx) {
	if a.field && v.K == KNull {
		return
	}
	a.n[g]++
}
func (a *countAgg) merge(g int32, o aggregator, og int32) { a.n[g] += o.(*countAgg).n[og] }
func (a *countAgg) result(g int32) Value                  { return intVal(a.n[g]) }

type sumState struct {
	i        int64
	f        float64
	has, flt bool
}

type sumAgg struct{ s []sumState }

func (a *sumAgg) grow() { a.s = append(a.s, sumState{}) }
func (a *sumAgg) add(g int32, v Value, _ *rowCtx) {
	s := &a.s[g]
	if v.K == KInt && !s.flt {
		if r := s.i + v.I; (r > s.i) == (v.I > 0) {
			s.i, s.has = r, true
			return
		}
	}
	f, ok := v.Float()
	if !ok || v.K == KTime {
		return
	}
	if !s.flt {
		s.f, s.flt = float64(s.i), true
	}
	s.f += f
	s.has = true
}
func (a *sumAgg) merge(g int32, o aggregator, og int32) {
	os := o.(*sumAgg).s[og]
	if !os.has {
		return
	}
	if os.flt {
		a.add(g, numVal(os.f), nil)
	} else {
		a.add(g, intVal(os.i), nil)
	}
}
func (a *sumAgg) result(g int32) Value {
	s := a.s[g]
	if !s.has {
		return null
	}
	if s.flt {
		return numVal(s.f)
	}
	return intVal(s.i)
}

type avgAgg struct {
	sum []float64
	n   []int64
}

func (a *avgAgg) grow() { a.sum, a.n = append(a.sum, 0), append(a.n, 0) }
func (a *avgAgg) add(g int32, v Value, _ *rowCtx) {
	if f, ok := v.Float(); ok && v.K != KTime {
		a.sum[g] += f
		a.n[g]++
	}
}
func (a *avgAgg) merge(g int32, o aggregator, og int32) {
	oa := o.(*avgAgg)
	a.sum[g] += oa.sum[og]
	a.n[g] += oa.n[og]
}
func (a *avgAgg) result(g int32) Value {
	if a.n[g] == 0 {
		return null
	}
	return numVal(a.sum[g] / float64(a.n[g]))
}

// minMaxAgg is min/max (numeric when both numeric, else text order) and
// sortsFirst/sortsLast (the sort command's order).
type minMaxAgg struct {
	sign    int
	natural bool
	v       []Value
}

func (a *minMaxAgg) grow() { a.v = append(a.v, null) }
func (a *minMaxAgg) better(v, cur Value) bool {
	if cur.K == KNull {
		return true
	}
	if !a.natural {
		// Numbers win over text such as the "-" of NODATA flow records.
		_, vn := v.Float()
		_, cn := cur.Float()
		if vn != cn {
			return vn
		}
	}
	var c int
	if a.natural {
		c = sortCompare(v, cur)
	} else {
		c, _ = orderCompare(v, cur)
	}
	return c*a.sign > 0
}
func (a *minMaxAgg) add(g int32, v Value, _ *rowCtx) {
	if v.K != KNull && a.better(v, a.v[g]) {
		a.v[g] = v.clone()
	}
}
func (a *minMaxAgg) merge(g int32, o aggregator, og int32) { a.add(g, o.(*minMaxAgg).v[og], nil) }
func (a *minMaxAgg) result(g int32) Value                  { return a.v[g] }

type stddevAgg struct {
	n       []float64
	mean, m []float64
}

func (a *stddevAgg) grow() {
	a.n, a.mean, a.m = append(a.n, 0), append(a.mean, 0), append(a.m, 0)
}
func (a *stddevAgg) add(g int32, v Value, _ *rowCtx) {
	x, ok := v.Float()
	if !ok || v.K == KTime {
		return
	}
	a.n[g]++
	d := x - a.mean[g]
	a.mean[g] += d / a.n[g]
	a.m[g] += d * (x - a.mean[g])
}
func (a *stddevAgg) merge(g int32, o aggregator, og int32) {
	b := o.(*stddevAgg)
	if b.n[og] == 0 {
		return
	}
	n := a.n[g] + b.n[og]
	d := b.mean[og] - a.mean[g]
	a.m[g] += b.m[og] + d*d*a.n[g]*b.n[og]/n
	a.mean[g] += d * b.n[og] / n
	a.n[g] = n
}

// result is the sample standard deviation (n−1); one value gives 0.
func (a *stddevAgg) result(g int32) Value {
	switch {
	case a.n[g] == 0:
		return null
	case a.n[g] == 1:
		return intVal(0)
	}
	return numVal(math.Sqrt(a.m[g] / (a.n[g] - 1)))
}

type timeAgg struct {
	latest bool
	v      []Value
	at     []tsSeq
}

func (a *timeAgg) grow() { a.v, a.at = append(a.v, null), append(a.at, tsSeq{}) }
func (a *timeAgg) set(g int32, v Value, at tsSeq) {
	if v.K == KNull {
		return
	}
	cur := a.at[g]
	if a.v[g].K != KNull {
		later := at.ts > cur.ts || at.ts == cur.ts && at.seq > cur.seq
		if later != a.latest {
			return
		}
	}
	a.v[g], a.at[g] = v.clone(), at
}
func (a *timeAgg) add(g int32, v Value, rc *rowCtx) { a.set(g, v, tsSeq{rc.ts, rc.seq}) }
func (a *timeAgg) merge(g int32, o aggregator, og int32) {
	b := o.(*timeAgg)
	a.set(g, b.v[og], b.at[og])
}
func (a *timeAgg) result(g int32) Value { return a.v[g] }

// pctAgg keeps the values and returns the nearest-rank percentile, one of
// the observed values.
type pctAgg struct {
	p float64
	v [][]float64
}

func (a *pctAgg) grow() { a.v = append(a.v, nil) }
func (a *pctAgg) add(g int32, v Value, _ *rowCtx) {
	if f, ok := v.Float(); ok && v.K != KTime {
		a.v[g] = append(a.v[g], f)
	}
}
func (a *pctAgg) merge(g int32, o aggregator, og int32) {
	a.v[g] = append(a.v[g], o.(*pctAgg).v[og]...)
}
func (a *pctAgg) result(g int32) Value {
	v := a.v[g]
	if len(v) == 0 {
		return null
	}
	slices.Sort(v)
	rank := int(math.Ceil(a.p / 100 * float64(len(v))))
	if rank < 1 {
		rank = 1
	}
	return classifyFloat(v[rank-1])
}

// distinctAgg counts distinct values exactly: fixed-width values in a
// pointer-free table per kind, text in a map.
type distinctSet struct {
	fixed [8]*u64Table
	text  map[string]struct{}
}

type distinctAgg struct{ sets []*distinctSet }

func (a *distinctAgg) grow() { a.sets = append(a.sets, nil) }
func (a *distinctAgg) add(g int32, v Value, _ *rowCtx) {
	if v.K == KNull {
		return
	}
	v = normKey(v)
	d := a.sets[g]
	if d == nil {
		d = &distinctSet{}
		a.sets[g] = d
	}
	if fixedKind(v.K) || v.K == KNum {
		t := d.fixed[v.K]
		if t == nil {
			t = newU64Table()
			d.fixed[v.K] = t
		}
		if _, ok := t.get(uint64(v.I)); !ok {
			t.put(uint64(v.I), 0)
		}
		return
	}
	if d.text == nil {
		d.text = map[string]struct{}{}
	}
	if _, ok := d.text[v.S]; !ok {
		d.text[strings.Clone(v.S)] = struct{}{}
	}
}
func (a *distinctAgg) merge(g int32, o aggregator, og int32) {
	od := o.(*distinctAgg).sets[og]
	if od == nil {
		return
	}
	d := a.sets[g]
	if d == nil {
		d = &distinctSet{}
		a.sets[g] = d
	}
	for k, ot := range od.fixed {
		if ot == nil {
			continue
		}
		// Stored values are already normalised: table to table.
		t := d.fixed[k]
		if t == nil {
			t = newU64Table()
			d.fixed[k] = t
		}
		ot.each(func(u uint64, _ int32) {
			if _, ok := t.get(u); !ok {
				t.put(u, 0)
			}
		})
	}
	for s := range od.text {
		a.add(g, strVal(s), nil)
	}
}
func (a *distinctAgg) result(g int32) Value {
	d := a.sets[g]
	if d == nil {
		return intVal(0)
	}
	n := len(d.text)
	for _, t := range d.fixed {
		if t != nil {
			n += t.len()
		}
	}
	return intVal(int64(n))
}
