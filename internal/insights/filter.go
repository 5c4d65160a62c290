package insights

import (
	"strings"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// filterOp keeps the rows where every conjunct holds, narrowing the
// selection one conjunct at a time. A conjunct that reads a single field
// bound to a token column is evaluated on the column: once per dictionary
// entry for text columns, as a typed loop over ints or IPv4 addresses for
// `field op constant`, so no row is boxed or rendered.
type filterOp struct {
	conjs []conjunct
	fake  rowCtx  // evaluates a conjunct on one value
	hit   []uint8 // per dictionary code, 0 or 1: a selection loop without a branch
	vals  []Value // fake row
}

type conjunct struct {
	fn   evalFn
	slot int // the one slot the conjunct reads, or -1
	op   string
	k    Value // constant of `field op k`, when op != ""
	// nullHit is the conjunct's value on a "-" token, fixed per query.
	nullHit bool
	// textEq: for = and != against an IPv4 or non-numeric text constant,
	// equality is equality of canonical text, ktext.
	textEq bool
	ktext  string
}

func compileFilter(c *compiler, x *FilterCmd) (streamOp, error) {
	op := &filterOp{vals: make([]Value, len(c.pl.names))}
	for _, e := range conjuncts(x.Expr) {
		fn, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		cj := conjunct{fn: fn, slot: singleSlot(c, e)}
		if b, ok := e.(*BinaryExpr); ok && cj.slot >= 0 {
			if _, isField := b.L.(*FieldRef); isField {
				if k, ok := constOf(b.R); ok {
					switch b.Op {
					case "=", "!=", "<", "<=", ">", ">=":
						cj.op, cj.k = b.Op, k
					}
					if _, numeric := k.Float(); (b.Op == "=" || b.Op == "!=") && (k.K == KIP || k.K == KStr && !numeric) {
						cj.textEq, cj.ktext = true, k.String()
					}
				}
			}
		}
		if cj.slot >= 0 {
			op.vals[cj.slot] = dashVal
			op.fake.vals, op.fake.env = op.vals, nil
			cj.nullHit = fn(&op.fake).isTrue()
			op.vals[cj.slot] = null
		}
		op.conjs = append(op.conjs, cj)
	}
	return op, nil
}

// singleSlot is the slot of the only field e reads, or -1.
func singleSlot(c *compiler, e Expr) int {
	name, n := "", 0
	walkExpr(e, func(x Expr) {
		switch f := x.(type) {
		case *FieldRef:
			if f.Name != name {
				name = f.Name
				n++
			}
		case *CallExpr:
			switch strings.ToLower(f.Name) {
			case "bin", "now":
				n += 2 // reads @timestamp or the clock
			}
		}
	})
	if n != 1 || c.pathField(name) != nil {
		return -1
	}
	if s, ok := c.pl.slotOf[name]; ok {
		return s
	}
	return -1
}

func (o *filterOp) apply(b *batch, rc *rowCtx) *batch {
	o.fake.env = rc.env
	for k := range o.conjs {
		if len(b.sel) == 0 {
			break
		}
		cj := &o.conjs[k]
		if cj.slot >= 0 && b.lazy != nil && b.lazy[cj.slot] != nil && b.lazy[cj.slot].c != nil {
			o.onColumn(b, cj, b.lazy[cj.slot].c)
			continue
		}
		out := b.sel[:0]
		for _, i := range b.sel {
			b.row(i, rc)
			if cj.fn(rc).isTrue() {
				out = append(out, i)
			}
		}
		b.sel = out
	}
	return b
}

func (o *filterOp) onColumn(b *batch, cj *conjunct, c *logstore.TokenColumn) {
	out := b.sel[:0]
	switch {
	case c.Kind == logstore.KindString:
		// Evaluate once per dictionary entry.
		o.hit = o.hit[:0]
		if cj.textEq {
			ne := cj.op == "!="
			for _, d := range c.Dict {
				o.hit = append(o.hit, bit((d == cj.ktext) != ne))
			}
		} else {
			for _, d := range c.Dict {
				o.vals[cj.slot] = Value{K: KStr, S: d}
				o.hit = append(o.hit, bit(cj.fn(&o.fake).isTrue()))
			}
		}
		o.vals[cj.slot] = null
		// Every row is written and the count advanced by its hit (out
		// aliases b.sel and never passes the row being read): matches
		// interleave at random (action="REJECT": 13% of rows), so a
		// branch would mispredict.
		sel, hit, codes := b.sel, o.hit, c.Codes
		n := 0
		for _, i := range sel {
			sel[n] = i
			n += int(hit[codes[i]])
		}
		out = sel[:n]
	case cj.op != "" && (c.Kind == logstore.KindInt && (cj.k.K == KInt) || (c.Kind == logstore.KindIPv4 || c.Kind == logstore.KindIP && c.Is6 == nil) && cj.k.K == KIP):
		var ints []int64
		var ips []uint32
		if c.Kind == logstore.KindInt {
			ints = c.Ints
		} else {
			ips = c.IPs
		}
		k := cj.k.I
		if ints != nil && (cj.op == "=" || cj.op == "!=") {
			b.sel = filterIntsEq(b.sel, ints, c.Null, k, cj.op == "!=", cj.nullHit)
			return
		}
		for _, i := range b.sel {
			if c.Null != nil && c.Null[i] {
				if cj.nullHit {
					out = append(out, i)
				}
				continue
			}
			var v int64
			if ints != nil {
				v = ints[i]
			} else {
				v = int64(ips[i])
			}
			var ok bool
			switch cj.op {
			case "=":
				ok = v == k
			case "!=":
				ok = v != k
			case "<":
				ok = v < k
			case "<=":
				ok = v <= k
			case ">":
				ok = v > k
			default:
				ok = v >= k
			}
			if ok {
				out = append(out, i)
			}
		}
	default:
		l := b.lazy[cj.slot]
		for _, i := range b.sel {
			o.vals[cj.slot] = l.value(i)
			if cj.fn(&o.fake).isTrue() {
				out = append(out, i)
			}
		}
		o.vals[cj.slot] = null
	}
	b.sel = out
}

// filterIntsEq keeps the rows of sel whose value is (ne: is not) k, and
// null rows when nullHit: one compare a row instead of the general loop's
// switch on the operator's text (Q2's protocol=6 and dstport=22).
func filterIntsEq(sel []int32, ints []int64, null []bool, k int64, ne, nullHit bool) []int32 {
	n := 0
	if null == nil {
		for _, i := range sel {
			if (ints[i] == k) != ne {
				sel[n] = i
				n++
			}
		}
		return sel[:n]
	}
	for _, i := range sel {
		hit := (ints[i] == k) != ne
		if null[i] {
			hit = nullHit
		}
		if hit {
			sel[n] = i
			n++
		}
	}
	return sel[:n]
}

// bit is 1 for true, 0 for false.
func bit(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
