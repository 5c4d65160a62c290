package insights

import (
	"slices"
	"strings"
)

var patternColumns = []string{"@pattern", "@ratio", "@sampleCount", "@severityLabel"}

// patternBarrier clusters rows by the text of a field with every token
// that holds a digit replaced by <*> (a simple stand-in for AWS's ML
// clustering: same output fields, deterministic). Each worker counts its
// own clusters, so memory grows with patterns, not rows. Most frequent
// pattern first; ties in the order of each pattern's first row.
type patternBarrier struct {
	pl    *plan
	cmd   *PatternCmd
	first bool
}

type cluster struct {
	n   int
	rep record // first row of the pattern in the current order (ts, seq, ord only)
	sev string
}

type patternWorker struct {
	pb    *patternBarrier
	src   evalFn
	order *sortWorker
	m     map[string]*cluster
	total int
	ord   int
}

func (p *patternBarrier) newWorker(c *compiler) (barrierWorker, error) {
	return &patternWorker{pb: p, src: c.field(p.cmd.Field), m: map[string]*cluster{},
		order: &sortWorker{sb: &sortBarrier{pl: p.pl, first: p.first}}}, nil
}

func (w *patternWorker) consume(b *batch, rc *rowCtx) {
	for _, i := range b.sel {
		b.row(i, rc)
		r := record{ts: rc.ts, seq: rc.seq, tgt: rc.tgt, ord: w.ord}
		w.ord++
		v := w.src(rc)
		if v.K == KNull {
			continue
		}
		w.total++
		text := v.String()
		toks := strings.Fields(text)
		for k, t := range toks {
			if strings.ContainsAny(t, "0123456789") {
				toks[k] = "<*>"
			}
		}
		pat := strings.Join(toks, " ")
		c := w.m[pat]
		if c == nil {
			c = &cluster{rep: r, sev: severity(text)}
			w.m[strings.Clone(pat)] = c
		} else if w.order.less(&r, &c.rep) {
			c.rep, c.sev = r, severity(text)
		}
		c.n++
	}
}

func (p *patternBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	all := map[string]*cluster{}
	total := 0
	var less func(a, b *record) bool
	for _, bw := range ws {
		w := bw.(*patternWorker)
		less = w.order.less
		total += w.total
		for pat, c := range w.m {
			cur := all[pat]
			switch {
			case cur == nil:
				cc := *c
				all[pat] = &cc
			default:
				cur.n += c.n
				if less(&c.rep, &cur.rep) {
					cur.rep, cur.sev = c.rep, c.sev
				}
			}
		}
	}
	pats := make([]string, 0, len(all))
	for pat := range all {
		pats = append(pats, pat)
	}
	slices.SortFunc(pats, func(a, b string) int {
		ca, cb := all[a], all[b]
		if ca.n != cb.n {
			return cb.n - ca.n
		}
		if less(&ca.rep, &cb.rep) {
			return -1
		}
		if less(&cb.rep, &ca.rep) {
			return 1
		}
		return strings.Compare(a, b)
	})
	pl := p.pl
	ns := len(pl.names)
	out := make([]record, 0, len(pats))
	for i, pat := range pats {
		c := all[pat]
		r := record{vals: make([]Value, ns), ord: i}
		set := func(name string, v Value) {
			if s, ok := pl.slotOf[name]; ok {
				r.vals[s] = v
			}
		}
		set("@pattern", strVal(pat))
		set("@ratio", numVal(float64(c.n)/float64(total)))
		set("@sampleCount", intVal(int64(c.n)))
		set("@severityLabel", strVal(c.sev))
		out = append(out, r)
	}
	return out, nil
}

func severity(s string) string {
	u := strings.ToUpper(s)
	for _, l := range []string{"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"} {
		if strings.Contains(u, l) {
			if l == "FATAL" {
				return "ERROR"
			}
			return l
		}
	}
	return "UNKNOWN"
}
