package filterpattern

import (
	"strconv"
	"strings"
)

type entryKind uint8

const (
	entryField    entryKind = iota // name, optionally with conditions on it
	entryEmpty                     // nothing between two commas: an unnamed field
	entryEllipsis                  // ...: any number of fields, also none
)

type delimEntry struct {
	kind entryKind
	name string
	cond *expr // nil: any value
}

// delimPattern is a space-delimited pattern [e1, e2, …].
type delimPattern struct {
	entries  []delimEntry
	ellipsis int // index of the ... entry, -1 without one
}

// parseDelimited reads `[ entry, … ]`. An entry is `...`, a field name, nothing, or conditions
// on one field name joined with && and || (`status_code = 404 || status_code = 410`); AWS
// rejects entries whose conditions name different fields.
func (p *parser) parseDelimited() (*delimPattern, error) {
	open := p.pos
	p.pos++
	d := &delimPattern{ellipsis: -1}
	p.skipSpace()
	if p.peek() == ']' {
		p.pos++
		return d, p.afterClose()
	}
	for {
		p.skipSpace()
		at := p.pos
		var e delimEntry
		switch {
		case p.atEnd():
		case p.hasPrefix("..."):
			p.pos += 3
			if d.ellipsis >= 0 {
				return nil, p.errAt(at, "a space-delimited pattern can contain only one '...'")
			}
			e.kind = entryEllipsis
			d.ellipsis = len(d.entries)
		case p.peek() == ',' || p.peek() == ']':
			e.kind = entryEmpty
		default:
			if name := p.fieldName(); name != "" {
				p.skipSpace()
				if c := p.peek(); c == ',' || c == ']' || p.atEnd() {
					e.name = name
					break
				}
			}
			p.pos = at
			x, err := p.parseOr(p.delimCondition, 0)
			if err != nil {
				return nil, err
			}
			var bad *condition
			first := ""
			x.conditions(func(c *condition) {
				if first == "" {
					first = c.name
				} else if c.name != first && bad == nil {
					bad = c
				}
			})
			if bad != nil {
				return nil, p.errAt(bad.pos, "conditions in one field must all name that field: found %q and %q (use one entry per field)", first, bad.name)
			}
			e.name, e.cond = first, x
		}
		d.entries = append(d.entries, e)
		p.skipSpace()
		if p.atEnd() {
			return nil, p.errAt(open, "unterminated space-delimited pattern (add the closing ']')")
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return d, p.afterClose()
		default:
			return nil, p.errAt(p.pos, "expected ',' or ']' after the field, found %s", p.describe(p.pos))
		}
	}
}

func (p *parser) afterClose() error {
	p.skipSpace()
	if !p.atEnd() {
		return p.errAt(p.pos, "unexpected text after the closing ']'")
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (p *parser) fieldName() string {
	start := p.pos
	for !p.atEnd() && isNameByte(p.peek()) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *parser) delimCondition() (*condition, error) {
	start := p.pos
	name := p.fieldName()
	if name == "" {
		return nil, p.errAt(start, "expected a field name (letters, digits, '_' or '-'), found %s", p.describe(start))
	}
	c := &condition{pos: start, name: name}
	p.skipSpace()
	var err error
	if c.op, err = p.readOp(); err != nil {
		return nil, err
	}
	if c.val, err = p.readValue(c.op, ",]()"); err != nil {
		return nil, err
	}
	return c, nil
}

func (e *expr) evalText(s string) bool {
	switch e.op {
	case exprAnd:
		for _, k := range e.kids {
			if !k.evalText(s) {
				return false
			}
		}
		return true
	case exprOr:
		for _, k := range e.kids {
			if k.evalText(s) {
				return true
			}
		}
		return false
	}
	return e.cond.val.compare(e.cond.op, s, false)
}

// span locates one field of an event: the value (quotes or brackets stripped) and the raw text.
type span struct{ vs, ve, rs, re int }

// splitFields splits an event into fields on blanks. A field that starts with '"' runs to the
// next '"', one that starts with '[' to the next ']' (AWS: `[10/Oct/2000:13:25:15 -0700]` and
// `"GET /index.html HTTP/1.0"` are one field each); without the closing character it runs to
// the end of the event.
func splitFields(msg string, f []span) []span {
	i, n := 0, len(msg)
	for {
		for i < n && isSpace(msg[i]) {
			i++
		}
		if i >= n {
			return f
		}
		var sp span
		sp.rs = i
		switch c := msg[i]; c {
		case '"', '[':
			closer := byte('"')
			if c == '[' {
				closer = ']'
			}
			sp.vs = i + 1
			j := strings.IndexByte(msg[i+1:], closer)
			if j < 0 {
				sp.ve, sp.re = n, n
			} else {
				sp.ve = i + 1 + j
				sp.re = sp.ve + 1
			}
		default:
			sp.vs = i
			j := i
			for j < n && !isSpace(msg[j]) {
				j++
			}
			sp.ve, sp.re = j, j
		}
		f = append(f, sp)
		i = sp.re
	}
}

// inlineFields fields are split without allocating; VPC flow logs have 14 (custom formats more).
const inlineFields = 48

// fieldOf is the index of the first event field that entry i covers, given n fields.
func (d *delimPattern) fieldOf(i, n int) int {
	if d.ellipsis < 0 || i < d.ellipsis {
		return i
	}
	return n - (len(d.entries) - i)
}

// fits reports whether n fields can be laid out on the entries. Without '...' every entry takes
// one field and the last takes the rest of the event (so [w1=ERROR, w2] matches events of two or
// more words and [w1=ERROR] compares the whole event), the reading of AWS's guide that
// explains its insistence on the trailing w2; with '...' the ellipsis takes the surplus.
func (d *delimPattern) fits(n int) bool {
	if d.ellipsis < 0 {
		return n >= len(d.entries)
	}
	return n >= len(d.entries)-1
}

// text is the value entry i sees.
func (d *delimPattern) text(msg string, f []span, i int) string {
	j := d.fieldOf(i, len(f))
	if d.ellipsis < 0 && i == len(d.entries)-1 && len(f) > len(d.entries) {
		return msg[f[j].rs:f[len(f)-1].re]
	}
	return msg[f[j].vs:f[j].ve]
}

// match reports whether msg matches; with out != nil it also records the extracted values,
// keyed $name, or $position (1-based) for fields under '...' or an unnamed entry.
func (d *delimPattern) match(msg string, out map[string]string) bool {
	k := len(d.entries)
	if k == 0 {
		return true
	}
	var buf [inlineFields]span
	f := splitFields(msg, buf[:0])
	if !d.fits(len(f)) {
		return false
	}
	for i := range d.entries {
		e := &d.entries[i]
		if e.kind == entryEllipsis {
			continue
		}
		if e.cond != nil && !e.cond.evalText(d.text(msg, f, i)) {
			return false
		}
	}
	if out == nil {
		return true
	}
	for i := range d.entries {
		e := &d.entries[i]
		switch e.kind {
		case entryField:
			out["$"+e.name] = d.text(msg, f, i)
		case entryEmpty:
			out["$"+strconv.Itoa(d.fieldOf(i, len(f))+1)] = d.text(msg, f, i)
		case entryEllipsis:
			for j := i; j < i+len(f)-(k-1); j++ {
				out["$"+strconv.Itoa(j+1)] = msg[f[j].vs:f[j].ve]
			}
		}
	}
	return true
}

func (d *delimPattern) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range d.entries {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case e.kind == entryEllipsis:
			b.WriteString("...")
		case e.cond != nil:
			b.WriteString(e.cond.String())
		default:
			b.WriteString(e.name)
		}
	}
	b.WriteByte(']')
	return b.String()
}
