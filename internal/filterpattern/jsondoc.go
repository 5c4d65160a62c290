package filterpattern

import (
	"strings"
	"sync"
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

// jnode is one value of a parsed event. The nodes of a document live in one slice (reused
// through a pool) and link to their children, so parsing allocates nothing in steady state
// except for strings that contain escapes.
type jnode struct {
	kind  jkind
	str   string // string value, or number text
	key   string // the member name, when the parent is an object
	first int32  // first child, -1 if none
	next  int32  // next sibling, -1 if none
}

type jdoc struct {
	nodes []jnode
}

var jdocPool = sync.Pool{New: func() any { return &jdoc{nodes: make([]jnode, 0, 64)} }}

func (d *jdoc) release() {
	clear(d.nodes) // drop references into the event
	d.nodes = d.nodes[:0]
	jdocPool.Put(d)
}

const maxJSONDepth = 512

type jreader struct {
	s     string
	i     int
	depth int
	doc   *jdoc
}

// parseJSONObject parses msg, which must be exactly one JSON object (blanks around it allowed).
// The root is node 0. The caller must release the document.
func parseJSONObject(msg string) (*jdoc, bool) {
	i, j := 0, len(msg)
	for i < j && isJSONSpace(msg[i]) {
		i++
	}
	for j > i && isJSONSpace(msg[j-1]) {
		j--
	}
	if j-i < 2 || msg[i] != '{' || msg[j-1] != '}' {
		return nil, false // not an object: the usual case for plain-text events, decided cheaply
	}
	r := jreader{s: msg[:j], i: i, doc: jdocPool.Get().(*jdoc)}
	if _, ok := r.value(); !ok || r.i != j {
		r.doc.release()
		return nil, false
	}
	return r.doc, true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (r *jreader) add(n jnode) int32 {
	n.first, n.next = -1, -1
	r.doc.nodes = append(r.doc.nodes, n)
	return int32(len(r.doc.nodes) - 1)
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

func (r *jreader) value() (int32, bool) {
	if r.i >= len(r.s) {
		return -1, false
	}
	switch c := r.s[r.i]; {
	case c == '{':
		return r.container(jObject, '}')
	case c == '[':
		return r.container(jArray, ']')
	case c == '"':
		s, ok := r.string()
		return r.add(jnode{kind: jString, str: s}), ok
	case c == '-' || c >= '0' && c <= '9':
		s, ok := r.number()
		return r.add(jnode{kind: jNumber, str: s}), ok
	case strings.HasPrefix(r.s[r.i:], "true"):
		r.i += 4
		return r.add(jnode{kind: jTrue}), true
	case strings.HasPrefix(r.s[r.i:], "false"):
		r.i += 5
		return r.add(jnode{kind: jFalse}), true
	case strings.HasPrefix(r.s[r.i:], "null"):
		r.i += 4
		return r.add(jnode{kind: jNull}), true
	}
	return -1, false
}

// container reads an object or an array at r.i.
func (r *jreader) container(kind jkind, closer byte) (int32, bool) {
	if r.depth++; r.depth > maxJSONDepth {
		return -1, false
	}
	r.i++
	self := r.add(jnode{kind: kind})
	prev := int32(-1)
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == closer {
		r.i++
		r.depth--
		return self, true
	}
	for {
		r.ws()
		var key string
		if kind == jObject {
			if r.i >= len(r.s) || r.s[r.i] != '"' {
				return -1, false
			}
			k, ok := r.string()
			if !ok {
				return -1, false
			}
			key = k
			r.ws()
			if r.i >= len(r.s) || r.s[r.i] != ':' {
				return -1, false
			}
			r.i++
			r.ws()
		}
		child, ok := r.value()
		if !ok {
			return -1, false
		}
		nodes := r.doc.nodes
		nodes[child].key = key
		if prev < 0 {
			nodes[self].first = child
		} else {
			nodes[prev].next = child
		}
		prev = child
		r.ws()
		if r.i >= len(r.s) {
			return -1, false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case closer:
			r.i++
			r.depth--
			return self, true
		default:
			return -1, false
		}
	}
}

func (r *jreader) number() (string, bool) {
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
		return "", false
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return "", false
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return r.s[start:r.i], true
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
