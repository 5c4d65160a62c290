package insights

import (
	"slices"
	"strings"
)

var patternColumns = []string{"@pattern", "@ratio", "@sampleCount", "@severityLabel"}

// patterns clusters rows by the text of field with every token that holds
// a digit replaced by <*> (a simple stand-in for AWS's ML clustering: same
// output fields, deterministic), most frequent pattern first.
func patterns(pl *plan, p *PatternCmd, recs []record) []record {
	type cluster struct {
		n     int
		first int
		sev   string
	}
	src := pl.slotOf[p.Field]
	byPat := map[string]*cluster{}
	var order []string
	total := 0
	for i, r := range recs {
		v := r.vals[src]
		if v.K == KNull {
			continue
		}
		total++
		text := v.String()
		toks := strings.Fields(text)
		for k, t := range toks {
			if strings.ContainsAny(t, "0123456789") {
				toks[k] = "<*>"
			}
		}
		pat := strings.Join(toks, " ")
		c, ok := byPat[pat]
		if !ok {
			c = &cluster{first: i, sev: severity(text)}
			byPat[pat] = c
			order = append(order, pat)
		}
		c.n++
	}
	slices.SortStableFunc(order, func(a, b string) int { return byPat[b].n - byPat[a].n })
	ns := len(pl.names)
	out := make([]record, 0, len(order))
	for i, pat := range order {
		c := byPat[pat]
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
	return out
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
