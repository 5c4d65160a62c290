package filterpattern

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for log events: it keeps numbers as the text the event wrote (AWS
// compares quoted values against that text: 12.0 != "12") and does not allocate for strings
// without escapes. encoding/json would lose the first and cost more for the second.

type jkind uint8

const (
	jNull jkind = iota
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

type jval struct {
	kind jkind
	str  string   // string value, or number text
	keys []string // object keys, parallel to vals
	vals []jval   // array elements or object values
}

const maxJSONDepth = 512

type jreader struct {
	s     string
	i     int
	depth int
}

// parseJSONObject parses msg, which must be exactly one JSON object (blanks around it allowed).
func parseJSONObject(msg string) (jval, bool) {
	r := jreader{s: msg}
	r.ws()
	if r.i >= len(r.s) || r.s[r.i] != '{' {
		return jval{}, false
	}
	v, ok := r.value()
	if !ok {
		return jval{}, false
	}
	r.ws()
	return v, r.i == len(r.s)
}

func (r *jreader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jreader) value() (jval, bool) {
	if r.i >= len(r.s) {
		return jval{}, false
	}
	switch c := r.s[r.i]; {
	case c == '{':
		return r.object()
	case c == '[':
		return r.array()
	case c == '"':
		s, ok := r.string()
		return jval{kind: jString, str: s}, ok
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case strings.HasPrefix(r.s[r.i:], "true"):
		r.i += 4
		return jval{kind: jTrue}, true
	case strings.HasPrefix(r.s[r.i:], "false"):
		r.i += 5
		return jval{kind: jFalse}, true
	case strings.HasPrefix(r.s[r.i:], "null"):
		r.i += 4
		return jval{kind: jNull}, true
	}
	return jval{}, false
}

func (r *jreader) object() (jval, bool) {
	if r.depth++; r.depth > maxJSONDepth {
		return jval{}, false
	}
	defer func() { r.depth-- }()
	r.i++
	v := jval{kind: jObject}
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return v, true
	}
	for {
		r.ws()
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return v, false
		}
		k, ok := r.string()
		if !ok {
			return v, false
		}
		r.ws()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return v, false
		}
		r.i++
		r.ws()
		e, ok := r.value()
		if !ok {
			return v, false
		}
		v.keys = append(v.keys, k)
		v.vals = append(v.vals, e)
		r.ws()
		if r.i >= len(r.s) {
			return v, false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case '}':
			r.i++
			return v, true
		default:
			return v, false
		}
	}
}

func (r *jreader) array() (jval, bool) {
	if r.depth++; r.depth > maxJSONDepth {
		return jval{}, false
	}
	defer func() { r.depth-- }()
	r.i++
	v := jval{kind: jArray}
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return v, true
	}
	for {
		r.ws()
		e, ok := r.value()
		if !ok {
			return v, false
		}
		v.vals = append(v.vals, e)
		r.ws()
		if r.i >= len(r.s) {
			return v, false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return v, true
		default:
			return v, false
		}
	}
}

func (r *jreader) number() (jval, bool) {
	start := r.i
	if r.s[r.i] == '-' {
		r.i++
	}
	digits := func() int {
		n := 0
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.i < len(r.s) && r.s[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		return jval{}, false
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return jval{}, false
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return jval{}, false
		}
	}
	return jval{kind: jNumber, str: r.s[start:r.i]}, true
}

// string reads a JSON string at r.i (the opening quote) and returns its decoded value.
func (r *jreader) string() (string, bool) {
	r.i++
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			s := r.s[start:r.i]
			r.i++
			return s, true
		case c == '\\':
			return r.slowString(start)
		case c < 0x20:
			return "", false
		}
		r.i++
	}
	return "", false
}

func (r *jreader) slowString(start int) (string, bool) {
	var b strings.Builder
	b.WriteString(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.s) {
			return "", false
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			c1, ok := r.hex4()
			if !ok {
				return "", false
			}
			ch := rune(c1)
			if utf16.IsSurrogate(ch) {
				ch = utf8.RuneError
				if strings.HasPrefix(r.s[r.i:], `\u`) {
					save := r.i
					r.i += 2
					if c2, ok := r.hex4(); ok && utf16.DecodeRune(rune(c1), rune(c2)) != utf8.RuneError {
						ch = utf16.DecodeRune(rune(c1), rune(c2))
					} else {
						r.i = save
					}
				}
			}
			b.WriteRune(ch)
		default:
			return "", false
		}
	}
	return "", false
}

func (r *jreader) hex4() (int, bool) {
	if r.i+4 > len(r.s) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(r.s[r.i : r.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			n = n*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return n, true
}
