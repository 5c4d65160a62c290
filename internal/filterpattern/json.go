package filterpattern

import (
	"strconv"
	"strings"
)

// MaxWildcardSelectors is AWS's quota of selectors containing a wildcard ($.* or [*]) in one
// JSON pattern; each selector may hold at most one wildcard.
const MaxWildcardSelectors = 3

type jsonPattern struct {
	root *expr
}

type segKind uint8

const (
	segKey      segKind = iota // .name or .['name']
	segIndex                   // [n]
	segAnyKey                  // .*
	segAnyIndex                // [*]
)

type segment struct {
	kind  segKind
	key   string
	index int
}

// selector is a JSON property path such as $.a.b[0].c, $.list[*].id or $.['dotted.key'].
type selector struct {
	segs []segment
}

// parseJSONPattern reads `{ expr }`. Conditions are `selector op value`, `selector IS NULL`,
// `selector IS TRUE|FALSE` and `selector NOT EXISTS`.
func (p *parser) parseJSONPattern() (*jsonPattern, error) {
	open := p.pos
	p.pos++
	p.skipSpace()
	if p.peek() == '}' {
		return nil, p.errAt(open, "empty JSON filter pattern; write a condition such as { $.field = \"value\" }")
	}
	root, err := p.parseOr(p.jsonCondition, 0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.atEnd() {
		return nil, p.errAt(open, "unterminated JSON filter pattern (add the closing '}')")
	}
	if p.peek() != '}' {
		return nil, p.errAt(p.pos, "expected '&&', '||' or '}', found %s", p.describe(p.pos))
	}
	p.pos++
	p.skipSpace()
	if !p.atEnd() {
		return nil, p.errAt(p.pos, "unexpected text after the closing '}'")
	}
	return &jsonPattern{root: root}, nil
}

func (p *parser) jsonCondition() (*condition, error) {
	start := p.pos
	if p.peek() != '$' {
		return nil, p.errAt(start, "expected a selector starting with '$.', found %s", p.describe(start))
	}
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	c := &condition{pos: start, sel: sel}
	p.skipSpace()
	if w := p.word(); w != "" {
		switch strings.ToUpper(w) {
		case "IS":
			p.skipSpace()
			at := p.pos
			switch strings.ToUpper(p.word()) {
			case "NULL":
				c.op = opIsNull
			case "TRUE":
				c.op = opIsTrue
			case "FALSE":
				c.op = opIsFalse
			case "NOT":
				return nil, p.errAt(at, "IS NOT is not supported; use '!=' or NOT EXISTS")
			default:
				return nil, p.errAt(at, "expected NULL, TRUE or FALSE after IS")
			}
		case "NOT":
			p.skipSpace()
			at := p.pos
			if strings.ToUpper(p.word()) != "EXISTS" {
				return nil, p.errAt(at, "expected EXISTS after NOT")
			}
			c.op = opNotExists
		case "EXISTS":
			return nil, p.errAt(start, "EXISTS is not supported; use { %s = \"*\" } to test that a field exists", sel)
		default:
			return nil, p.errAt(start, "expected an operator after %s, found %q", sel, w)
		}
		return c, nil
	}
	if c.op, err = p.readOp(); err != nil {
		return nil, err
	}
	if c.val, err = p.readValue(c.op, "(){}"); err != nil {
		return nil, err
	}
	return c, nil
}

// word reads a run of ASCII letters (a keyword) at p.pos.
func (p *parser) word() string {
	start := p.pos
	for !p.atEnd() {
		c := p.peek()
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= 0x80
}

// selector reads $.a.b[0][*].* … Property names are letters, digits, '-' and '_' (AWS); other
// names are written in bracket form, $.['cluster.name'].
func (p *parser) selector() (*selector, error) {
	start := p.pos
	p.pos++ // '$'
	if p.peek() != '.' {
		return nil, p.errAt(start, "a selector must start with '$.'")
	}
	s := &selector{}
	wild := 0
	for !p.atEnd() {
		c := p.peek()
		if c != '.' && c != '[' {
			break
		}
		at := p.pos
		p.pos++
		var seg segment
		switch {
		case c == '.' && p.peek() == '*':
			p.pos++
			seg.kind = segAnyKey
		case c == '.' && p.peek() == '[':
			p.pos++
			k, err := p.bracketKey(at)
			if err != nil {
				return nil, err
			}
			seg = segment{kind: segKey, key: k}
		case c == '.':
			ks := p.pos
			for !p.atEnd() && isKeyByte(p.peek()) {
				p.pos++
			}
			if ks == p.pos {
				return nil, p.errAt(ks, "expected a property name after '.', found %s (write other names as $.['name'])", p.describe(ks))
			}
			seg = segment{kind: segKey, key: p.src[ks:p.pos]}
		case p.peek() == '*':
			p.pos++
			if p.peek() != ']' {
				return nil, p.errAt(p.pos, "expected ']' after '[*', found %s", p.describe(p.pos))
			}
			p.pos++
			seg.kind = segAnyIndex
		case p.peek() == '\'' || p.peek() == '"':
			k, err := p.bracketKey(at)
			if err != nil {
				return nil, err
			}
			seg = segment{kind: segKey, key: k}
		default:
			ds := p.pos
			for !p.atEnd() && p.peek() >= '0' && p.peek() <= '9' {
				p.pos++
			}
			n, err := strconv.Atoi(p.src[ds:p.pos])
			if ds == p.pos || err != nil {
				return nil, p.errAt(ds, "expected an array index, '*' or a quoted property name after '['")
			}
			if p.peek() != ']' {
				return nil, p.errAt(p.pos, "expected ']' after the array index, found %s", p.describe(p.pos))
			}
			p.pos++
			seg = segment{kind: segIndex, index: n}
		}
		if seg.kind == segAnyKey || seg.kind == segAnyIndex {
			wild++
			if wild > 1 {
				return nil, p.errAt(at, "a selector can contain at most one wildcard")
			}
		}
		s.segs = append(s.segs, seg)
	}
	if len(s.segs) == 0 {
		return nil, p.errAt(start, "expected a property name after '$.'")
	}
	if wild > 0 {
		p.nwild++
		if p.nwild > MaxWildcardSelectors {
			return nil, p.errAt(start, "a JSON filter pattern can contain at most %d selectors with wildcards", MaxWildcardSelectors)
		}
	}
	return s, nil
}

// bracketKey reads 'name'] or "name"] with \' \" and \\ escapes; p.pos is at the quote.
func (p *parser) bracketKey(open int) (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errAt(p.pos, "expected a quoted property name after '['")
	}
	p.pos++
	var b strings.Builder
	for {
		if p.atEnd() {
			return "", p.errAt(open, "unterminated property name in brackets")
		}
		c := p.peek()
		if c == '\\' && p.pos+1 < p.end {
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
			continue
		}
		p.pos++
		if c == q {
			break
		}
		b.WriteByte(c)
	}
	if p.peek() != ']' {
		return "", p.errAt(p.pos, "expected ']' after the quoted property name, found %s", p.describe(p.pos))
	}
	p.pos++
	return b.String(), nil
}

func (s *selector) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, g := range s.segs {
		switch g.kind {
		case segKey:
			if isPlainKey(g.key) {
				b.WriteString("." + g.key)
			} else {
				b.WriteString(".['")
				for i := 0; i < len(g.key); i++ {
					if g.key[i] == '\'' || g.key[i] == '\\' {
						b.WriteByte('\\')
					}
					b.WriteByte(g.key[i])
				}
				b.WriteString("']")
			}
		case segIndex:
			b.WriteString("[" + strconv.Itoa(g.index) + "]")
		case segAnyKey:
			b.WriteString(".*")
		case segAnyIndex:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyByte(k[i]) {
			return false
		}
	}
	return true
}

// reaches reports whether the selector, followed from node n, reaches a value that satisfies
// c.test (several values with a wildcard: any of them).
func (s *selector) reaches(d *jdoc, n int32, i int, c *condition) bool {
	if i == len(s.segs) {
		return c.test(&d.nodes[n])
	}
	g := &s.segs[i]
	node := &d.nodes[n]
	switch g.kind {
	case segKey:
		if node.kind != jObject {
			return false
		}
		// With duplicate keys the last one wins, as in most JSON decoders.
		found := int32(-1)
		for ch := node.first; ch >= 0; ch = d.nodes[ch].next {
			if d.nodes[ch].key == g.key {
				found = ch
			}
		}
		return found >= 0 && s.reaches(d, found, i+1, c)
	case segIndex:
		if node.kind != jArray {
			return false
		}
		ch := node.first
		for k := 0; k < g.index && ch >= 0; k++ {
			ch = d.nodes[ch].next
		}
		return ch >= 0 && s.reaches(d, ch, i+1, c)
	case segAnyKey, segAnyIndex:
		if (g.kind == segAnyKey) != (node.kind == jObject) || node.kind != jObject && node.kind != jArray {
			return false
		}
		for ch := node.first; ch >= 0; ch = d.nodes[ch].next {
			if s.reaches(d, ch, i+1, c) {
				return true
			}
		}
	}
	return false
}

// test applies the condition to one value the selector reached. Semantics (AWS, observed with
// TestMetricFilter): objects and arrays never satisfy a comparison, not even !=; only strings
// and numbers compare; JSON true/false/null only answer IS TRUE / IS FALSE / IS NULL. For NOT
// EXISTS, test says "exists" and evalJSON negates.
func (c *condition) test(v *jnode) bool {
	switch c.op {
	case opNotExists:
		return true
	case opIsNull:
		return v.kind == jNull
	case opIsTrue:
		return v.kind == jTrue
	case opIsFalse:
		return v.kind == jFalse
	}
	switch v.kind {
	case jString:
		return c.val.compare(c.op, v.str, false)
	case jNumber:
		return c.val.compare(c.op, v.str, true)
	}
	return false
}

// evalJSON: a selector that reaches nothing fails every condition except NOT EXISTS; with a
// wildcard the condition holds if any reached value satisfies it, NOT EXISTS if none is reached.
func (c *condition) evalJSON(d *jdoc) bool {
	r := c.sel.reaches(d, 0, 0, c)
	if c.op == opNotExists {
		return !r
	}
	return r
}

func (e *expr) evalJSON(doc *jdoc) bool {
	switch e.op {
	case exprAnd:
		for _, k := range e.kids {
			if !k.evalJSON(doc) {
				return false
			}
		}
		return true
	case exprOr:
		for _, k := range e.kids {
			if k.evalJSON(doc) {
				return true
			}
		}
		return false
	}
	return e.cond.evalJSON(doc)
}

// match parses the event as JSON; events that are not a JSON object never match. The cheap
// first-byte check keeps non-JSON events (flow log lines) off the parser.
func (j *jsonPattern) match(msg string) bool {
	doc, ok := parseJSONObject(msg)
	if !ok {
		return false
	}
	m := j.root.evalJSON(doc)
	doc.release()
	return m
}

func (j *jsonPattern) String() string { return "{ " + j.root.String() + " }" }
