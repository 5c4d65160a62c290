package insights

import (
	"encoding/json"
	"math"
	"strings"
)

// evalFn evaluates an expression for the row in r.
type evalFn func(r *rowCtx) Value

// rowCtx is the row an expression sees: its slot values and identity.
type rowCtx struct {
	vals []Value
	ts   int64
	seq  uint64
	tgt  int32
	tk   int64
	env  *execEnv
	row  int32
	lazy []*lazyCol
}

// get reads slot s of the row, through a lazily bound token column if any.
func (r *rowCtx) get(s int) Value {
	if r.lazy != nil {
		if l := r.lazy[s]; l != nil {
			return l.value(r.row)
		}
	}
	return r.vals[s]
}

// materialize copies the row's lazy slots into vals.
func (r *rowCtx) materialize() {
	for s, l := range r.lazy {
		if l != nil {
			r.vals[s] = l.value(r.row)
		}
	}
}

// compiler turns expressions into evalFns over the plan's slots.
type compiler struct {
	pl *plan
	// agg, when set, resolves aggregate calls inside stats items.
	agg func(c *CallExpr) (evalFn, bool)
}

func (c *compiler) errAt(e Expr, format string, args ...any) error {
	return errAt(c.pl.q.Text, e.Pos(), format, args...)
}

func (c *compiler) field(name string) evalFn {
	if s, ok := c.pl.slotOf[name]; ok && c.pl.defined[name] {
		return func(r *rowCtx) Value { return r.get(s) }
	}
	if f := c.pathField(name); f != nil {
		return f
	}
	if s, ok := c.pl.slotOf[name]; ok {
		return func(r *rowCtx) Value { return r.get(s) }
	}
	return func(*rowCtx) Value { return null }
}

// pathField reads a.b.c where a (or a.b) is a value defined by a command,
// such as jsonParse's result or unnest's element: a JSON path.
func (c *compiler) pathField(name string) evalFn {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '.' {
			continue
		}
		if s, ok := c.pl.slotOf[name[:i]]; ok && c.pl.defined[name[:i]] {
			path := strings.Split(name[i+1:], ".")
			return func(r *rowCtx) Value { return jsonPath(r.get(s), path) }
		}
	}
	return nil
}

func (c *compiler) compile(e Expr) (evalFn, error) {
	switch x := e.(type) {
	case *FieldRef:
		return c.field(x.Name), nil
	case *StringLit:
		v := strVal(x.Val)
		return func(*rowCtx) Value { return v }, nil
	case *NumberLit:
		v := numVal(x.Val)
		if x.Val == math.Trunc(x.Val) && math.Abs(x.Val) < 1e18 {
			v = intVal(int64(x.Val))
		}
		return func(*rowCtx) Value { return v }, nil
	case *DurationLit:
		return nil, c.errAt(e, "a time period is only allowed as an argument of bin, datefloor or dateceil")
	case *RegexLit:
		return nil, c.errAt(e, "a regular expression is only allowed after like or =~")
	case *ListLit:
		return nil, c.errAt(e, "a list is only allowed after in")
	case *ParenExpr:
		return c.compile(x.X)
	case *UnaryExpr:
		f, err := c.compile(x.X)
		if err != nil {
			return nil, err
		}
		if x.Op == "not" {
			return func(r *rowCtx) Value {
				v := f(r)
				if v.K == KNull {
					return null
				}
				return boolVal(!v.isTrue())
			}, nil
		}
		return func(r *rowCtx) Value {
			v := f(r)
			if v.K == KInt {
				return intVal(-v.I)
			}
			if n, ok := v.Float(); ok {
				return numVal(-n)
			}
			return null
		}, nil
	case *BinaryExpr:
		return c.compileBinary(x)
	case *LikeExpr:
		return c.compileLike(x)
	case *InExpr:
		return c.compileIn(x)
	case *CallExpr:
		if c.agg != nil {
			if f, ok := c.agg(x); ok {
				return f, nil
			}
		}
		if aggregateNames[strings.ToLower(x.Name)] {
			// After stats, count(*) names the unaliased column count(*).
			if name, ok := c.pl.statsColumn[squeeze(x.String())]; ok {
				return c.field(name), nil
			}
		}
		return c.compileCall(x)
	}
	return nil, c.errAt(e, "unsupported expression")
}

func (c *compiler) compileBinary(x *BinaryExpr) (evalFn, error) {
	l, err := c.compile(x.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(x.R)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case "and":
		return func(rc *rowCtx) Value { return boolVal(l(rc).isTrue() && r(rc).isTrue()) }, nil
	case "or":
		return func(rc *rowCtx) Value { return boolVal(l(rc).isTrue() || r(rc).isTrue()) }, nil
	case "=", "!=":
		neg := x.Op == "!="
		// The common filter `field = constant` on typed token values.
		if k, ok := constOf(x.R); ok && (k.K == KInt || k.K == KIP) {
			kk := k
			return func(rc *rowCtx) Value {
				v := l(rc)
				if v.K == KNull {
					return boolVal(false)
				}
				if v.K == kk.K {
					return boolVal((v.I == kk.I) != neg)
				}
				return boolVal(valuesEqual(v, kk) != neg)
			}, nil
		}
		return func(rc *rowCtx) Value {
			a, b := l(rc), r(rc)
			if a.K == KNull || b.K == KNull {
				return boolVal(false)
			}
			return boolVal(valuesEqual(a, b) != neg)
		}, nil
	case "<", "<=", ">", ">=":
		op := x.Op
		return func(rc *rowCtx) Value {
			n, ok := orderCompare(l(rc), r(rc))
			if !ok {
				return boolVal(false)
			}
			switch op {
			case "<":
				return boolVal(n < 0)
			case "<=":
				return boolVal(n <= 0)
			case ">":
				return boolVal(n > 0)
			}
			return boolVal(n >= 0)
		}, nil
	case "+", "-", "*", "/", "%", "^":
		op := x.Op[0]
		return func(rc *rowCtx) Value { return arith(op, l(rc), r(rc)) }, nil
	}
	return nil, c.errAt(x, "unknown operator %q", x.Op)
}

// constOf returns the value of a literal, typed like log text so that it
// compares directly with token columns.
func constOf(e Expr) (Value, bool) {
	switch x := e.(type) {
	case *NumberLit:
		if x.Val == math.Trunc(x.Val) && math.Abs(x.Val) < 1e18 {
			return intVal(int64(x.Val)), true
		}
		return numVal(x.Val), true
	case *StringLit:
		return classify(x.Val), true
	case *ParenExpr:
		return constOf(x.X)
	case *UnaryExpr:
		if x.Op == "-" {
			if n, ok := x.X.(*NumberLit); ok {
				if n.Val == math.Trunc(n.Val) {
					return intVal(-int64(n.Val)), true
				}
				return numVal(-n.Val), true
			}
		}
	}
	return null, false
}

func arith(op byte, a, b Value) Value {
	if a.K == KInt && b.K == KInt {
		x, y := a.I, b.I
		switch op {
		case '+':
			if s := x + y; (s > x) == (y > 0) {
				return intVal(s)
			}
		case '-':
			if s := x - y; (s < x) == (y > 0) {
				return intVal(s)
			}
		case '*':
			if x == 0 || (x*y/x == y && !(x == -1 && y == math.MinInt64)) {
				return intVal(x * y)
			}
		case '%':
			if y != 0 {
				return intVal(x % y)
			}
			return null
		}
	}
	x, ok1 := a.Float()
	y, ok2 := b.Float()
	if !ok1 || !ok2 {
		return null
	}
	switch op {
	case '+':
		return numVal(x + y)
	case '-':
		return numVal(x - y)
	case '*':
		return numVal(x * y)
	case '/':
		if y == 0 {
			return null
		}
		return numVal(x / y)
	case '%':
		if y == 0 {
			return null
		}
		return numVal(math.Mod(x, y))
	case '^':
		return numVal(math.Pow(x, y))
	}
	return null
}

func (c *compiler) compileLike(x *LikeExpr) (evalFn, error) {
	f, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	neg := x.Not
	// Text is matched in place; only typed values (ints, IPs) are
	// rendered, into a stack buffer.
	var match func(string) bool
	switch p := x.Pattern.(type) {
	case *RegexLit:
		re, err := compileRegex(p.Pattern)
		if err != nil {
			return nil, c.errAt(p, "invalid regular expression: %v", err)
		}
		match = re.MatchString
		if lit, complete := re.LiteralPrefix(); complete {
			match = func(s string) bool { return strings.Contains(s, lit) }
		}
	case *StringLit:
		if x.Tilde {
			re, err := compileRegex(p.Val)
			if err != nil {
				return nil, c.errAt(p, "invalid regular expression: %v", err)
			}
			match = re.MatchString
		} else {
			lit := p.Val
			match = func(s string) bool { return strings.Contains(s, lit) }
		}
	default:
		return nil, c.errAt(x.Pattern, "like needs a string or /regex/")
	}
	return func(rc *rowCtx) Value {
		v := f(rc)
		switch v.K {
		case KNull:
			return boolVal(false)
		case KStr, KJSON:
			return boolVal(match(v.S) != neg)
		}
		var buf [64]byte
		return boolVal(match(string(v.appendText(buf[:0]))) != neg)
	}, nil
}

func (c *compiler) compileIn(x *InExpr) (evalFn, error) {
	f, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	var consts []Value
	var dyn []evalFn
	for _, e := range x.List.Elems {
		if k, ok := constOf(e); ok {
			consts = append(consts, k)
			continue
		}
		g, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		dyn = append(dyn, g)
	}
	neg := x.Not
	return func(rc *rowCtx) Value {
		v := f(rc)
		if v.K == KNull {
			return boolVal(false)
		}
		for _, k := range consts {
			if v.K == k.K && (v.K == KInt || v.K == KIP) {
				if v.I == k.I {
					return boolVal(!neg)
				}
				continue
			}
			if valuesEqual(v, k) {
				return boolVal(!neg)
			}
		}
		for _, g := range dyn {
			if valuesEqual(v, g(rc)) {
				return boolVal(!neg)
			}
		}
		return boolVal(neg)
	}, nil
}

// JSON values.

// jsonPath walks a KJSON value (or JSON text) along a dotted path.
func jsonPath(v Value, path []string) Value {
	if v.K != KJSON {
		return null
	}
	var x any
	if err := json.Unmarshal([]byte(v.S), &x); err != nil {
		return null
	}
	for _, p := range path {
		switch t := x.(type) {
		case map[string]any:
			var ok bool
			if x, ok = t[p]; !ok {
				return null
			}
		case []any:
			i := 0
			for _, ch := range []byte(p) {
				if ch < '0' || ch > '9' {
					return null
				}
				i = i*10 + int(ch-'0')
			}
			if i >= len(t) {
				return null
			}
			x = t[i]
		default:
			return null
		}
	}
	return jsonValue(x)
}

// jsonValue converts a decoded JSON value to a Value.
func jsonValue(x any) Value {
	switch t := x.(type) {
	case nil:
		return null
	case string:
		return classify(t)
	case json.Number:
		return classify(string(t))
	case float64:
		return classifyFloat(t)
	case bool:
		if t {
			return strVal("true")
		}
		return strVal("false")
	default:
		b, _ := json.Marshal(t)
		return Value{K: KJSON, S: string(b)}
	}
}

func classifyFloat(f float64) Value {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return intVal(int64(f))
	}
	return numVal(f)
}

// flattenJSON adds every leaf of x under dotted names (arrays by index),
// which is how Insights discovers JSON fields.
func flattenJSON(prefix string, x any, out map[string]Value) {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			n := k
			if prefix != "" {
				n = prefix + "." + k
			} else if strings.HasPrefix(k, "@") {
				// Discovered names never shadow system fields: @x is exposed as @@x.
				n = "@" + k
			}
			flattenJSON(n, v, out)
		}
	case []any:
		for i, v := range t {
			flattenJSON(prefix+"."+itoa(i), v, out)
		}
	default:
		if prefix != "" {
			if v := jsonValue(t); v.K != KNull {
				out[prefix] = v
			}
		}
	}
}

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
