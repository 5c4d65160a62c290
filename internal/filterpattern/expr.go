package filterpattern

import "strings"

// expr is a boolean combination of conditions, shared by JSON and space-delimited patterns.
// && binds tighter than ||; parentheses group.
type expr struct {
	op   exprOp
	kids []*expr    // for exprAnd / exprOr
	cond *condition // for exprCond
}

type exprOp uint8

const (
	exprCond exprOp = iota
	exprAnd
	exprOr
)

// condition is one comparison. sel is set in JSON patterns, name in space-delimited ones.
type condition struct {
	pos  int // where it starts in the pattern, for errors
	sel  *selector
	name string
	op   cmpOp
	val  value
}

func (c *condition) String() string {
	lhs := c.name
	if c.sel != nil {
		lhs = c.sel.String()
	}
	switch c.op {
	case opIsNull, opIsTrue, opIsFalse, opNotExists:
		return lhs + " " + c.op.String()
	}
	return lhs + " " + c.op.String() + " " + c.val.String()
}

// parseOr parses `and ( "||" and )*`; operand reads one condition.
func (p *parser) parseOr(operand func() (*condition, error), depth int) (*expr, error) {
	left, err := p.parseAnd(operand, depth)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.hasPrefix("||") {
			return left, nil
		}
		p.pos += 2
		right, err := p.parseAnd(operand, depth)
		if err != nil {
			return nil, err
		}
		left = combine(exprOr, left, right)
	}
}

func (p *parser) parseAnd(operand func() (*condition, error), depth int) (*expr, error) {
	left, err := p.parsePrimary(operand, depth)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.hasPrefix("&&") {
			return left, nil
		}
		p.pos += 2
		right, err := p.parsePrimary(operand, depth)
		if err != nil {
			return nil, err
		}
		left = combine(exprAnd, left, right)
	}
}

const maxExprDepth = 100

func (p *parser) parsePrimary(operand func() (*condition, error), depth int) (*expr, error) {
	p.skipSpace()
	if p.peek() != '(' {
		c, err := operand()
		if err != nil {
			return nil, err
		}
		return &expr{op: exprCond, cond: c}, nil
	}
	open := p.pos
	if depth >= maxExprDepth {
		return nil, p.errAt(open, "parentheses nested too deeply")
	}
	p.pos++
	e, err := p.parseOr(operand, depth+1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != ')' {
		return nil, p.errAt(p.pos, "expected ')' to close the '(' at position %d, found %s", open+1, p.describe(p.pos))
	}
	p.pos++
	return e, nil
}

// combine flattens chains of the same operator so deep a && b && c … stays shallow.
func combine(op exprOp, l, r *expr) *expr {
	e := &expr{op: op}
	for _, x := range []*expr{l, r} {
		if x.op == op {
			e.kids = append(e.kids, x.kids...)
		} else {
			e.kids = append(e.kids, x)
		}
	}
	return e
}

func (e *expr) conditions(fn func(*condition)) {
	if e.op == exprCond {
		fn(e.cond)
		return
	}
	for _, k := range e.kids {
		k.conditions(fn)
	}
}

func (e *expr) String() string {
	var b strings.Builder
	e.render(&b, exprOr)
	return b.String()
}

// render writes e with the fewest parentheses that keep its meaning: only an || inside an &&.
func (e *expr) render(b *strings.Builder, parent exprOp) {
	switch e.op {
	case exprCond:
		b.WriteString(e.cond.String())
		return
	}
	paren := e.op == exprOr && parent == exprAnd
	if paren {
		b.WriteByte('(')
	}
	sep := " && "
	if e.op == exprOr {
		sep = " || "
	}
	for i, k := range e.kids {
		if i > 0 {
			b.WriteString(sep)
		}
		k.render(b, e.op)
	}
	if paren {
		b.WriteByte(')')
	}
}
