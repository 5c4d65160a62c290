package insights

import (
	"strings"
)

// check applies the rules AWS enforces before running a query.
func check(q *Query) error {
	src := q.Text
	nstats := 0
	var firstStats *StatsCmd
	statsOut := map[string]bool{}
	for i, c := range q.Commands {
		for _, e := range commandExprs(c) {
			var bad *CallExpr
			walkExpr(e, func(n Expr) {
				if call, ok := n.(*CallExpr); ok && bad == nil {
					name := strings.ToLower(call.Name)
					if _, ok := scalarFuncs[name]; !ok && !aggregateNames[name] {
						bad = call
					}
				}
			})
			if bad != nil {
				return errAt(src, bad.P, "unknown function %q", bad.Name)
			}
		}
		switch x := c.(type) {
		case *StatsCmd:
			nstats++
			if nstats > 2 {
				return errAt(src, x.P, "a query can have at most two stats commands")
			}
			if nstats == 2 {
				for _, prev := range q.Commands[:i] {
					switch prev.(type) {
					case *SortCmd, *LimitCmd, *DedupCmd:
						if prev.Pos() > firstStats.P {
							return errAt(src, prev.Pos(), "sort and limit must come after the second stats command")
						}
					}
				}
				if err := checkSecondStats(src, x, statsOut); err != nil {
					return err
				}
			} else {
				firstStats = x
			}
			if err := checkStats(src, x); err != nil {
				return err
			}
			for _, p := range x.By {
				statsOut[p.Name()] = true
			}
			for _, p := range x.Aggs {
				statsOut[p.Name()] = true
				if p.Alias == "" {
					statsOut[squeeze(p.Raw)] = true
				}
			}
		case *DedupCmd:
			for _, next := range q.Commands[i+1:] {
				if _, ok := next.(*LimitCmd); !ok {
					return errAt(src, next.Pos(), "only limit may follow dedup")
				}
			}
		case *DiffCmd:
			if err := checkDiff(src, q.Commands[:i], x); err != nil {
				return err
			}
		}
		// Aggregations are only valid inside stats, or after it as the name
		// of an unaliased stats column (sort count(*) desc).
		if _, ok := c.(*StatsCmd); !ok {
			for _, e := range commandExprs(c) {
				var bad *CallExpr
				walkExpr(e, func(n Expr) {
					if call, ok := n.(*CallExpr); ok && bad == nil && aggregateNames[strings.ToLower(call.Name)] && !statsOut[squeeze(call.String())] {
						bad = call
					}
				})
				if bad != nil {
					return errAt(src, bad.P, "%s() is an aggregation function and is only allowed in stats", bad.Name)
				}
			}
		}
	}
	return nil
}

// squeeze drops spaces, so `count( * )` and `count(*)` name one column.
func squeeze(s string) string { return strings.ReplaceAll(s, " ", "") }

func checkStats(src string, s *StatsCmd) error {
	aliases := map[string]bool{}
	for _, p := range s.Aggs {
		nagg := 0
		refsAlias := false
		var err error
		walkExpr(p.Expr, func(n Expr) {
			switch x := n.(type) {
			case *CallExpr:
				if aggregateNames[strings.ToLower(x.Name)] {
					nagg++
					for _, a := range x.Args {
						walkExpr(a, func(m Expr) {
							if c, ok := m.(*CallExpr); ok && err == nil && aggregateNames[strings.ToLower(c.Name)] {
								err = errAt(src, c.P, "aggregation functions cannot be nested")
							}
						})
					}
				}
			case *FieldRef:
				if aliases[x.Name] {
					refsAlias = true
				}
			}
		})
		if err != nil {
			return err
		}
		if nagg == 0 && !refsAlias {
			return errAt(src, p.Expr.Pos(), "stats needs an aggregation function such as count(), sum() or avg()")
		}
		if p.Alias != "" {
			aliases[p.Alias] = true
		}
	}
	for _, p := range s.By {
		var err error
		walkExpr(p.Expr, func(n Expr) {
			if c, ok := n.(*CallExpr); ok && err == nil && aggregateNames[strings.ToLower(c.Name)] {
				err = errAt(src, c.P, "aggregation functions are not allowed in by")
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSecondStats: the second stats sees only the first one's output, so
// bin() (which reads @timestamp) works only if @timestamp was kept.
func checkSecondStats(src string, s *StatsCmd, firstOut map[string]bool) error {
	var err error
	for _, p := range append(append([]Projection{}, s.Aggs...), s.By...) {
		walkExpr(p.Expr, func(n Expr) {
			if c, ok := n.(*CallExpr); ok && err == nil && strings.EqualFold(c.Name, "bin") && !firstOut["@timestamp"] {
				err = errAt(src, c.P, "bin() cannot be used in the second stats command: @timestamp no longer exists; use an alias of the first stats, e.g. by bin(5m) as @t, and dateceil(@t, …)")
			}
		})
	}
	return err
}

// commandExprs lists the expressions a command evaluates.
func commandExprs(c Command) []Expr {
	var out []Expr
	switch x := c.(type) {
	case *FieldsCmd:
		for _, p := range x.Items {
			out = append(out, p.Expr)
		}
	case *DisplayCmd:
		for _, p := range x.Items {
			out = append(out, p.Expr)
		}
	case *FilterCmd:
		out = append(out, x.Expr)
	case *StatsCmd:
		for _, p := range x.Aggs {
			out = append(out, p.Expr)
		}
		for _, p := range x.By {
			out = append(out, p.Expr)
		}
	case *SortCmd:
		for _, k := range x.Keys {
			out = append(out, k.Expr)
		}
	}
	return out
}
