package insights

import (
	"encoding/json"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// scalarFunc is a non-aggregate function; names are matched lowercased.
type scalarFunc struct {
	min, max int // argument counts; max -1: any
	fn       func(args []Value, env *execEnv) Value
}

var aggregateNames = map[string]bool{
	"count": true, "count_distinct": true, "sum": true, "avg": true, "min": true, "max": true,
	"pct": true, "stddev": true, "earliest": true, "latest": true, "sortsfirst": true, "sortslast": true,
}

// Functions compiled specially (they read @timestamp, need constant
// periods, or want precompiled CIDRs) are listed with a nil fn.
var scalarFuncs = map[string]scalarFunc{
	// string
	"isempty": {1, 1, func(a []Value, _ *execEnv) Value { return boolVal(a[0].K == KNull || a[0].K == KStr && a[0].S == "") }},
	"isblank": {1, 1, func(a []Value, _ *execEnv) Value {
		return boolVal(a[0].K == KNull || a[0].K == KStr && strings.TrimSpace(a[0].S) == "")
	}},
	"concat":      {1, -1, fnConcat},
	"ltrim":       {1, 2, func(a []Value, _ *execEnv) Value { return trimFn(a, strings.TrimLeftFunc, strings.TrimLeft) }},
	"rtrim":       {1, 2, func(a []Value, _ *execEnv) Value { return trimFn(a, strings.TrimRightFunc, strings.TrimRight) }},
	"trim":        {1, 2, func(a []Value, _ *execEnv) Value { return trimFn(a, strings.TrimFunc, strings.Trim) }},
	"strlen":      {1, 1, textFn(func(s string) Value { return intVal(int64(utf8.RuneCountInString(s))) })},
	"toupper":     {1, 1, textFn(func(s string) Value { return strVal(strings.ToUpper(s)) })},
	"tolower":     {1, 1, textFn(func(s string) Value { return strVal(strings.ToLower(s)) })},
	"substr":      {2, 3, fnSubstr},
	"replace":     {3, 3, fnReplace},
	"strcontains": {2, 2, fnStrcontains},
	// numeric
	"abs":      {1, 1, numFn(math.Abs)},
	"ceil":     {1, 1, numFn(math.Ceil)},
	"floor":    {1, 1, numFn(math.Floor)},
	"log":      {1, 1, numFn(math.Log)},
	"sqrt":     {1, 1, numFn(math.Sqrt)},
	"greatest": {1, -1, func(a []Value, _ *execEnv) Value { return extremum(a, 1) }},
	"least":    {1, -1, func(a []Value, _ *execEnv) Value { return extremum(a, -1) }},
	// general
	"ispresent": {1, 1, func(a []Value, _ *execEnv) Value { return boolVal(a[0].K != KNull) }},
	"coalesce": {1, -1, func(a []Value, _ *execEnv) Value {
		for _, v := range a {
			if v.K != KNull {
				return v
			}
		}
		return null
	}},
	// datetime
	"bin":        {1, 1, nil},
	"datefloor":  {2, 2, nil},
	"dateceil":   {2, 2, nil},
	"frommillis": {1, 1, fnFromMillis},
	"tomillis":   {1, 1, fnToMillis},
	"now":        {0, 0, func(_ []Value, env *execEnv) Value { return intVal(env.now.Unix()) }},
	// IP
	"isvalidip":      {1, 1, ipCheck(func(a netip.Addr) bool { return true })},
	"isvalidipv4":    {1, 1, ipCheck(func(a netip.Addr) bool { return a.Is4() })},
	"isvalidipv6":    {1, 1, ipCheck(func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() })},
	"isipinsubnet":   {2, 2, nil},
	"isipv4insubnet": {2, 2, nil},
	"isipv6insubnet": {2, 2, nil},
	// JSON
	"jsonparse":     {1, 1, fnJSONParse},
	"jsonstringify": {1, 1, fnJSONStringify},
}

func (c *compiler) compileCall(x *CallExpr) (evalFn, error) {
	name := strings.ToLower(x.Name)
	if aggregateNames[name] {
		return nil, c.errAt(x, "%s() is an aggregation function and is only allowed in stats", x.Name)
	}
	def, ok := scalarFuncs[name]
	if !ok {
		return nil, c.errAt(x, "unknown function %q", x.Name)
	}
	if x.Star {
		return nil, c.errAt(x, "%s(*) is not allowed", x.Name)
	}
	if len(x.Args) < def.min || def.max >= 0 && len(x.Args) > def.max {
		return nil, c.errAt(x, "wrong number of arguments to %s(): %d", x.Name, len(x.Args))
	}
	switch name {
	case "bin":
		d, ok := x.Args[0].(*DurationLit)
		if !ok {
			return nil, c.errAt(x.Args[0], "bin() needs a time period such as 5m")
		}
		if d.N <= 0 {
			return nil, c.errAt(d, "the time period must be positive")
		}
		ts := c.field("@timestamp")
		if u, ok := unitMillis[d.Unit]; ok && d.Unit != "w" {
			p := u * d.N
			return func(r *rowCtx) Value {
				v := ts(r)
				if v.K != KTime {
					return null
				}
				return Value{K: KTime, I: floorDiv(v.I, p) * p}
			}, nil
		}
		return func(r *rowCtx) Value {
			v := ts(r)
			if v.K != KTime {
				return null
			}
			return timeVal(floorTime(v.I, d))
		}, nil
	case "datefloor", "dateceil":
		d, ok := x.Args[1].(*DurationLit)
		if !ok {
			return nil, c.errAt(x.Args[1], "%s() needs a time period such as 1h", x.Name)
		}
		if d.N <= 0 {
			return nil, c.errAt(d, "the time period must be positive")
		}
		f, err := c.compile(x.Args[0])
		if err != nil {
			return nil, err
		}
		ceil := name == "dateceil"
		return func(r *rowCtx) Value {
			ms, ok := timeOf(f(r))
			if !ok {
				return null
			}
			fl := floorTime(ms, d)
			if ceil && fl != ms {
				fl = ceilTime(fl, d)
			}
			return timeVal(fl)
		}, nil
	case "isipinsubnet", "isipv4insubnet", "isipv6insubnet":
		return c.compileSubnet(name, x)
	}
	args := make([]evalFn, len(x.Args))
	for i, a := range x.Args {
		f, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = f
	}
	fn := def.fn
	// Each worker compiles its own plan, so this scratch slice is not shared.
	buf := make([]Value, len(args))
	return func(r *rowCtx) Value {
		for i, a := range args {
			buf[i] = a(r)
		}
		return fn(buf, r.env)
	}, nil
}

func (c *compiler) compileSubnet(name string, x *CallExpr) (evalFn, error) {
	ipf, err := c.compile(x.Args[0])
	if err != nil {
		return nil, err
	}
	want4, want6 := name == "isipv4insubnet", name == "isipv6insubnet"
	check := func(a netip.Addr, p netip.Prefix) bool {
		a = a.Unmap()
		if want4 && !a.Is4() || want6 && !a.Is6() {
			return false
		}
		return p.Contains(a)
	}
	if lit, ok := x.Args[1].(*StringLit); ok {
		p, err := netip.ParsePrefix(lit.Val)
		if err != nil {
			return nil, c.errAt(lit, "invalid CIDR %q", lit.Val)
		}
		p = p.Masked()
		if want4 && !p.Addr().Is4() || want6 && !p.Addr().Is6() {
			return func(*rowCtx) Value { return boolVal(false) }, nil
		}
		var net4, mask4 uint32
		if p.Addr().Is4() {
			b := p.Addr().As4()
			net4 = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			if p.Bits() > 0 {
				mask4 = ^uint32(0) << (32 - p.Bits())
			}
		}
		is4 := p.Addr().Is4()
		return func(r *rowCtx) Value {
			v := ipf(r)
			if v.K == KIP {
				return boolVal(is4 && uint32(v.I)&mask4 == net4)
			}
			a, ok := addrOf(v)
			return boolVal(ok && check(a, p))
		}, nil
	}
	cf, err := c.compile(x.Args[1])
	if err != nil {
		return nil, err
	}
	return func(r *rowCtx) Value {
		a, ok := addrOf(ipf(r))
		if !ok {
			return boolVal(false)
		}
		p, err := netip.ParsePrefix(cf(r).String())
		return boolVal(err == nil && check(a, p.Masked()))
	}, nil
}

func addrOf(v Value) (netip.Addr, bool) {
	switch v.K {
	case KIP:
		ip := uint32(v.I)
		return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
	case KStr:
		a, err := netip.ParseAddr(v.S)
		return a, err == nil && a.Zone() == ""
	}
	return netip.Addr{}, false
}

func ipCheck(pred func(netip.Addr) bool) func([]Value, *execEnv) Value {
	return func(a []Value, _ *execEnv) Value {
		addr, ok := addrOf(a[0])
		return boolVal(ok && pred(addr))
	}
}

func textFn(f func(string) Value) func([]Value, *execEnv) Value {
	return func(a []Value, _ *execEnv) Value {
		if a[0].K == KNull {
			return null
		}
		return f(a[0].String())
	}
}

func numFn(f func(float64) float64) func([]Value, *execEnv) Value {
	return func(a []Value, _ *execEnv) Value {
		x, ok := a[0].Float()
		if !ok {
			return null
		}
		return classifyFloat(f(x))
	}
}

func extremum(a []Value, sign int) Value {
	best, found := 0.0, false
	for _, v := range a {
		x, ok := v.Float()
		if !ok {
			continue
		}
		if !found || (sign > 0 && x > best) || (sign < 0 && x < best) {
			best, found = x, true
		}
	}
	if !found {
		return null
	}
	return classifyFloat(best)
}

func fnConcat(a []Value, _ *execEnv) Value {
	var b strings.Builder
	for _, v := range a {
		b.WriteString(v.String())
	}
	return strVal(b.String())
}

func trimFn(a []Value, byFunc func(string, func(rune) bool) string, bySet func(string, string) string) Value {
	if a[0].K == KNull {
		return null
	}
	s := a[0].String()
	if len(a) == 1 {
		return classify(byFunc(s, unicode.IsSpace))
	}
	return classify(bySet(s, a[1].String()))
}

func fnSubstr(a []Value, _ *execEnv) Value {
	if a[0].K == KNull {
		return null
	}
	r := []rune(a[0].String())
	st, ok := a[1].Float()
	if !ok {
		return null
	}
	start := int(st)
	if start < 0 {
		start = 0
	}
	if start > len(r) {
		start = len(r)
	}
	end := len(r)
	if len(a) == 3 {
		n, ok := a[2].Float()
		if !ok {
			return null
		}
		if e := start + int(n); e < end {
			end = e
		}
		if end < start {
			end = start
		}
	}
	return classify(string(r[start:end]))
}

func fnReplace(a []Value, _ *execEnv) Value {
	if a[0].K == KNull {
		return null
	}
	return classify(strings.ReplaceAll(a[0].String(), a[1].String(), a[2].String()))
}

func fnStrcontains(a []Value, _ *execEnv) Value {
	if a[0].K == KNull {
		return boolVal(false)
	}
	return boolVal(strings.Contains(a[0].String(), a[1].String()))
}

// timeOf reads a timestamp: a time value or a number of epoch milliseconds.
func timeOf(v Value) (int64, bool) {
	if v.K == KTime {
		return v.I, true
	}
	f, ok := v.Float()
	return int64(f), ok
}

func fnFromMillis(a []Value, _ *execEnv) Value {
	ms, ok := timeOf(a[0])
	if !ok {
		return null
	}
	return timeVal(ms)
}

func fnToMillis(a []Value, _ *execEnv) Value {
	ms, ok := timeOf(a[0])
	if !ok {
		return null
	}
	return intVal(ms)
}

func fnJSONParse(a []Value, _ *execEnv) Value {
	if a[0].K == KJSON {
		return a[0]
	}
	if a[0].K != KStr {
		return null
	}
	var x any
	d := json.NewDecoder(strings.NewReader(a[0].S))
	d.UseNumber()
	if err := d.Decode(&x); err != nil {
		return null
	}
	return jsonValue(x)
}

func fnJSONStringify(a []Value, _ *execEnv) Value {
	switch a[0].K {
	case KNull:
		return null
	case KJSON:
		return strVal(a[0].S)
	case KStr:
		b, _ := json.Marshal(a[0].S)
		return strVal(string(b))
	}
	return strVal(a[0].String())
}

// Time periods.

var unitMillis = map[string]int64{"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 7 * 86400000}

// floorTime aligns to the epoch in UTC for fixed units, to Mondays for
// weeks, and to calendar months, quarters and years.
func floorTime(ms int64, d *DurationLit) int64 {
	if u, ok := unitMillis[d.Unit]; ok {
		p := u * d.N
		off := int64(0)
		if d.Unit == "w" {
			off = 3 * 86400000 // 1970-01-01 was a Thursday; weeks start on Monday
		}
		return floorDiv(ms+off, p)*p - off
	}
	t := time.UnixMilli(ms).UTC()
	months := int64(t.Year())*12 + int64(t.Month()) - 1
	step := d.N
	switch d.Unit {
	case "q":
		step *= 3
	case "y":
		step *= 12
	}
	months = floorDiv(months, step) * step
	return time.Date(int(months/12), time.Month(months%12+1), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
}

// ceilTime returns the period boundary after the floor fl.
func ceilTime(fl int64, d *DurationLit) int64 {
	if u, ok := unitMillis[d.Unit]; ok {
		return fl + u*d.N
	}
	t := time.UnixMilli(fl).UTC()
	m := int(d.N)
	switch d.Unit {
	case "q":
		m *= 3
	case "y":
		m *= 12
	}
	return t.AddDate(0, m, 0).UnixMilli()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
