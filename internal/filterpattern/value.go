package filterpattern

import (
	"regexp"
	"strconv"
	"strings"
)

// cmpOp is the operator of a JSON or space-delimited condition.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opIsNull
	opIsTrue
	opIsFalse
	opNotExists
)

var opText = [...]string{"=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"}

func (o cmpOp) String() string { return opText[o] }

func (o cmpOp) relational() bool { return o >= opLt && o <= opGe }

// readOp reads a comparison operator at p.pos.
func (p *parser) readOp() (cmpOp, error) {
	start := p.pos
	var op cmpOp
	switch {
	case p.hasPrefix("!="):
		op, p.pos = opNe, p.pos+2
	case p.hasPrefix("<="):
		op, p.pos = opLe, p.pos+2
	case p.hasPrefix(">="):
		op, p.pos = opGe, p.pos+2
	case p.hasPrefix("="):
		op, p.pos = opEq, p.pos+1
	case p.hasPrefix("<"):
		op, p.pos = opLt, p.pos+1
	case p.hasPrefix(">"):
		op, p.pos = opGt, p.pos+1
	default:
		return 0, p.errAt(start, "expected a comparison operator (=, !=, <, <=, >, >=), found %s", p.describe(start))
	}
	if c := p.peek(); c == '=' || c == '<' || c == '>' {
		return 0, p.errAt(start, "unsupported operator %q", p.src[start:p.pos+1])
	}
	return op, nil
}

type valueKind uint8

const (
	valText   valueKind = iota // quoted string or unquoted non-numeric token, '*' is a wildcard
	valNumber                  // unquoted number
	valRegex                   // %regex%
)

// value is the right-hand side of a condition.
type value struct {
	kind   valueKind
	quoted bool
	text   string // unescaped text, number text or regex source
	glob   glob
	num    float64
	re     *regexp.Regexp
}

// readValue reads a condition value after op. Relational operators need an unquoted number —
// AWS rejects `$.x > "123"` and `$.x > abc` (observed through TestMetricFilter).
// stop lists the characters that end an unquoted value besides blanks, "&&" and "||".
func (p *parser) readValue(op cmpOp, stop string) (value, error) {
	p.skipSpace()
	start := p.pos
	var v value
	switch c := p.peek(); {
	case p.atEnd():
		return v, p.errAt(start, "expected a value after %q", op.String())
	case c == '"':
		s, err := p.quoted()
		if err != nil {
			return v, err
		}
		v = value{kind: valText, quoted: true, text: s}
	case c == '%':
		re, src, err := p.regex()
		if err != nil {
			return v, err
		}
		v = value{kind: valRegex, text: src, re: re}
	default:
		for !p.atEnd() {
			c := p.peek()
			if isSpace(c) || strings.IndexByte(stop, c) >= 0 || p.hasPrefix("&&") || p.hasPrefix("||") {
				break
			}
			p.pos++
		}
		tok := p.src[start:p.pos]
		if tok == "" {
			return v, p.errAt(start, "expected a value after %q, found %s", op.String(), p.describe(start))
		}
		if isNumber(tok) {
			f, err := strconv.ParseFloat(tok, 64)
			if err != nil { // out of range
				return v, p.errAt(start, "number %s is out of range", tok)
			}
			v = value{kind: valNumber, text: tok, num: f}
		} else {
			v = value{kind: valText, text: tok}
		}
	}
	if op.relational() && v.kind != valNumber {
		return v, p.errAt(start, "operator %q needs an unquoted number, found %s", op.String(), p.src[start:p.pos])
	}
	if v.kind == valText {
		v.glob = compileGlob(v.text)
	}
	return v, nil
}

func (v *value) String() string {
	switch {
	case v.kind == valRegex:
		return "%" + v.text + "%"
	case v.quoted:
		return quote(v.text)
	}
	return v.text
}

// compare applies op to a field's text. isNum says the field is a JSON number (its text is the
// number as written in the event). Text values compare the field's text, with '*' wildcards
// (so `$.n = 1*` and `$.n != "123.0"` behave as AWS was observed to). Number values compare
// numerically when the field's text is a number; otherwise only != holds — a decision (AWS
// documents no case) that makes `bytes >= 400` false and `dstport != 22` true on the "-" of
// NODATA flow records, and mirrors AWS's observed `{ $.someString > 123 }` → no match.
func (v *value) compare(op cmpOp, field string, isNum bool) bool {
	switch v.kind {
	case valText:
		return v.glob.match(field) == (op == opEq)
	case valRegex:
		return v.re.MatchString(field) == (op == opEq)
	}
	f, ok := smallInt(field)
	if !ok {
		if !isNum && !isNumber(field) {
			return op == opNe
		}
		f, _ = strconv.ParseFloat(field, 64) // syntax was checked; out of range gives ±Inf
	}
	switch op {
	case opEq:
		return f == v.num
	case opNe:
		return f != v.num
	case opLt:
		return f < v.num
	case opLe:
		return f <= v.num
	case opGt:
		return f > v.num
	case opGe:
		return f >= v.num
	}
	return false
}

// glob matches text against a pattern where '*' stands for any run of characters (also empty).
type glob struct {
	exact  bool
	prefix string
	suffix string
	middle []string
}

func compileGlob(s string) glob {
	parts := strings.Split(s, "*")
	if len(parts) == 1 {
		return glob{exact: true, prefix: s}
	}
	g := glob{prefix: parts[0], suffix: parts[len(parts)-1]}
	for _, m := range parts[1 : len(parts)-1] {
		if m != "" {
			g.middle = append(g.middle, m)
		}
	}
	return g
}

func (g *glob) match(s string) bool {
	if g.exact {
		return s == g.prefix
	}
	if len(s) < len(g.prefix)+len(g.suffix) || !strings.HasPrefix(s, g.prefix) || !strings.HasSuffix(s, g.suffix) {
		return false
	}
	s = s[len(g.prefix) : len(s)-len(g.suffix)]
	for _, m := range g.middle {
		i := strings.Index(s, m)
		if i < 0 {
			return false
		}
		s = s[i+len(m):]
	}
	return true
}

// smallInt parses the common case of a field that is a short run of digits (ports, byte
// counts, timestamps) without going through strconv.
func smallInt(s string) (float64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return float64(n), true
}
