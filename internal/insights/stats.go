package insights

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// statsBarrier aggregates rows by the `by` keys with a hash table per
// worker; workers' tables are merged at the end.
type statsBarrier struct {
	pl    *plan
	cmd   *StatsCmd
	calls []*CallExpr // distinct aggregate calls, by String()
	index map[*CallExpr]int
}

func newStatsBarrier(pl *plan, s *StatsCmd) (barrier, error) {
	sb := &statsBarrier{pl: pl, cmd: s, index: map[*CallExpr]int{}}
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
	arg  evalFn // nil for count(*)
	make func() aggregator
}

func (sb *statsBarrier) compileAggs(c *compiler) ([]aggSpec, error) {
	var specs []aggSpec
	for _, call := range sb.calls {
		name := strings.ToLower(call.Name)
		var sp aggSpec
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
	bySl  []int // slot of a plain field key, else -1
	specs []aggSpec
	t     *groupTable
	kv    []Value
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
	}
	specs, err := sb.compileAggs(c)
	if err != nil {
		return nil, err
	}
	w.specs = specs
	w.t = newGroupTable(len(sb.cmd.By), specs)
	w.kv = make([]Value, len(sb.cmd.By))
	// Compile the items too, so that errors in them surface before the scan.
	if _, err := sb.compileItems(c, new([]Value)); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *statsWorker) consume(b *batch, rc *rowCtx) {
	t := w.t
	nby := len(w.kv)
	for _, i := range b.sel {
		b.row(i, rc)
		var g int32
		if nby > 0 {
			for k, f := range w.byFns {
				if s := w.bySl[k]; s >= 0 {
					w.kv[k] = normKey(rc.vals[s])
				} else {
					w.kv[k] = normKey(f(rc))
				}
			}
			g = t.lookup(w.kv)
		} else if t.n == 0 {
			g = t.lookup(nil)
		}
		if rc.ts > t.newest[g].ts || rc.ts == t.newest[g].ts && rc.seq > t.newest[g].seq {
			t.newest[g] = tsSeq{rc.ts, rc.seq}
		}
		for a, sp := range w.specs {
			v := null
			if sp.arg != nil {
				v = sp.arg(rc)
			}
			t.aggs[a].add(g, v, rc)
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

// groupTable maps key tuples to group ids: one or two fixed-width keys
// (ints, IPs, times) pack into a struct key; anything else is encoded.
type groupTable struct {
	nby    int
	n      int32
	m2     map[key2]int32
	ms     map[string]int32
	keys   []Value // nby per group
	newest []tsSeq
	aggs   []aggregator
	buf    []byte
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
		if ok {
			if g, found := t.m2[k]; found {
				return g
			}
			g := t.add(kv)
			t.m2[k] = g
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
		t.keys = append(t.keys, v.clone())
	}
	t.newest = append(t.newest, tsSeq{math.MinInt64, 0})
	for _, a := range t.aggs {
		a.grow()
	}
	return g
}

func (t *groupTable) key(g int32) []Value { return t.keys[int(g)*t.nby : int(g+1)*t.nby] }

func (sb *statsBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	var t *groupTable
	var c *compiler
	for _, w := range ws {
		sw := w.(*statsWorker)
		if t == nil {
			t = sw.t
			continue
		}
		o := sw.t
		for g := int32(0); g < o.n; g++ {
			ng := t.lookup(o.key(g))
			if o.newest[g].ts > t.newest[ng].ts || o.newest[g].ts == t.newest[ng].ts && o.newest[g].seq > t.newest[ng].seq {
				t.newest[ng] = o.newest[g]
			}
			for a := range t.aggs {
				t.aggs[a].merge(ng, o.aggs[a], g)
			}
		}
	}
	if t == nil {
		return nil, nil
	}
	// Without by, stats always yields one row.
	if t.nby == 0 && t.n == 0 {
		t.lookup(nil)
	}
	order := make([]int32, t.n)
	for i := range order {
		order[i] = int32(i)
	}
	// Groups come out newest time bucket first when a key is a time
	// (bin, datefloor), else by their newest event.
	var timeKeys []int
	if t.n > 0 {
		for k, p := range sb.cmd.By {
			if isTimeExpr(p.Expr) {
				timeKeys = append(timeKeys, k)
			}
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ka, kb := t.key(a), t.key(b)
		for _, k := range timeKeys {
			if c := cmpInt(kb[k].I, ka[k].I); c != 0 {
				return c
			}
		}
		if c := cmpInt(t.newest[b].ts, t.newest[a].ts); c != 0 {
			return c
		}
		if t.newest[a].seq != t.newest[b].seq {
			if t.newest[a].seq > t.newest[b].seq {
				return -1
			}
			return 1
		}
		return 0
	})
	c = &compiler{pl: sb.pl}
	cur := make([]Value, len(sb.calls))
	items, err := sb.compileItems(c, &cur)
	if err != nil {
		return nil, err
	}
	ns := len(sb.pl.names)
	recs := make([]record, 0, t.n)
	rc := &rowCtx{}
	for i, g := range order {
		r := record{vals: make([]Value, ns), ts: t.newest[g].ts, seq: t.newest[g].seq, ord: i}
		for k, p := range sb.cmd.By {
			r.vals[sb.pl.slotOf[p.Name()]] = t.key(g)[k]
		}
		for a := range cur {
			cur[a] = t.aggs[a].result(g)
		}
		rc.vals, rc.ts, rc.seq = r.vals, r.ts, r.seq
		for k, p := range sb.cmd.Aggs {
			r.vals[sb.pl.slotOf[p.Name()]] = items[k](rc)
		}
		recs = append(recs, r)
	}
	return recs, nil
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

// distinctAgg counts distinct values exactly.
type dkey struct {
	k Kind
	i int64
	s string
}

type distinctAgg struct{ sets []map[dkey]struct{} }

func (a *distinctAgg) grow() { a.sets = append(a.sets, nil) }
func (a *distinctAgg) add(g int32, v Value, _ *rowCtx) {
	if v.K == KNull {
		return
	}
	v = normKey(v)
	k := dkey{k: v.K, i: v.I, s: v.S}
	m := a.sets[g]
	if m == nil {
		m = map[dkey]struct{}{}
		a.sets[g] = m
	}
	if _, ok := m[k]; !ok {
		k.s = strings.Clone(k.s)
		m[k] = struct{}{}
	}
}
func (a *distinctAgg) merge(g int32, o aggregator, og int32) {
	for k := range o.(*distinctAgg).sets[og] {
		if a.sets[g] == nil {
			a.sets[g] = map[dkey]struct{}{}
		}
		a.sets[g][k] = struct{}{}
	}
}
func (a *distinctAgg) result(g int32) Value { return intVal(int64(len(a.sets[g]))) }
