package filterpattern

import (
	"fmt"
	"strconv"
	"strings"
)

// MatchFields reports whether message matches and returns the values TestMetricFilter lists as
// extractedValues: for space-delimited patterns "$name" per named field and "$N" (1-based
// position) for fields under "..." or an unnamed entry; an empty map for term and JSON patterns
// (AWS returns {} for both).
func (p *Pattern) MatchFields(message string) (map[string]string, bool) {
	if p.kind == KindDelimited {
		out := make(map[string]string, len(p.delim.entries))
		if !p.delim.match(message, out) {
			return nil, false
		}
		return out, true
	}
	if !p.Match(message) {
		return nil, false
	}
	return map[string]string{}, true
}

// Value is what a metric-value or dimension reference resolves to in one event.
type Value struct {
	Text    string // the field's text (a JSON number as written, a JSON string decoded)
	Found   bool   // the reference reached a string or number
	Numeric bool   // Text is a number
}

// CheckRef validates a metric-value or dimension reference against the pattern: "$.path" needs
// a JSON pattern, "$name" a space-delimited pattern that names the field (or "$N", a 1-based
// field position). The error text is meant for an InvalidParameterException.
func (p *Pattern) CheckRef(ref string) error {
	_, err := p.compileRef(ref)
	return err
}

type compiledRef struct {
	sel  *selector
	name string
	pos  int // 1-based field position, 0 for a name
}

func (p *Pattern) compileRef(ref string) (compiledRef, error) {
	switch {
	case strings.HasPrefix(ref, "$."):
		if p.kind != KindJSON {
			return compiledRef{}, fmt.Errorf("invalid metric value or dimension %q: JSON selectors need a JSON filter pattern", ref)
		}
		ps := &parser{src: ref, end: len(ref)}
		sel, err := ps.selector()
		if err != nil || !ps.atEnd() {
			return compiledRef{}, fmt.Errorf("invalid metric value or dimension %q: not a JSON selector", ref)
		}
		return compiledRef{sel: sel}, nil
	case strings.HasPrefix(ref, "$") && len(ref) > 1:
		if p.kind != KindDelimited {
			return compiledRef{}, fmt.Errorf("invalid metric value or dimension %q: field references need a space-delimited filter pattern", ref)
		}
		name := ref[1:]
		if n, err := strconv.Atoi(name); err == nil && n > 0 {
			return compiledRef{pos: n}, nil
		}
		for _, e := range p.delim.entries {
			if e.kind == entryField && e.name == name {
				return compiledRef{name: name}, nil
			}
		}
		return compiledRef{}, fmt.Errorf("invalid metric value or dimension %q: the filter pattern has no field named %q", ref, name)
	}
	return compiledRef{}, fmt.Errorf("invalid metric value or dimension %q: expected $.path or $field", ref)
}

// MatchRefs matches message and, if it matches, resolves each reference (as accepted by
// CheckRef) in the same pass. values[i] belongs to refs[i]; a reference that is invalid for the
// pattern or reaches nothing usable has Found == false.
func (p *Pattern) MatchRefs(message string, refs ...string) (values []Value, ok bool) {
	switch p.kind {
	case KindJSON:
		doc, isJSON := parseJSONObject(message)
		if !isJSON {
			return nil, false
		}
		defer doc.release()
		if !p.json.root.evalJSON(doc) {
			return nil, false
		}
		values = make([]Value, len(refs))
		for i, r := range refs {
			cr, err := p.compileRef(r)
			if err != nil {
				continue
			}
			values[i] = firstScalar(doc, cr.sel)
		}
		return values, true
	case KindDelimited:
		fields, matched := p.MatchFields(message)
		if !matched {
			return nil, false
		}
		values = make([]Value, len(refs))
		for i, r := range refs {
			if _, err := p.compileRef(r); err != nil {
				continue
			}
			if t, found := fields[r]; found {
				values[i] = Value{Text: t, Found: true, Numeric: isNumber(t)}
			}
		}
		return values, true
	}
	if !p.Match(message) {
		return nil, false
	}
	return make([]Value, len(refs)), true
}

// firstScalar is the first string or number the selector reaches.
func firstScalar(d *jdoc, s *selector) Value {
	var out Value
	var walk func(n int32, i int) bool
	walk = func(n int32, i int) bool {
		node := &d.nodes[n]
		if i == len(s.segs) {
			switch node.kind {
			case jString:
				out = Value{Text: node.str, Found: true, Numeric: isNumber(node.str)}
			case jNumber:
				out = Value{Text: node.str, Found: true, Numeric: true}
			default:
				return false
			}
			return true
		}
		g := &s.segs[i]
		idx := 0
		found := int32(-1)
		for ch := node.first; ch >= 0; ch = d.nodes[ch].next {
			switch {
			case g.kind == segKey && node.kind == jObject && d.nodes[ch].key == g.key:
				found = ch
			case g.kind == segIndex && node.kind == jArray && idx == g.index:
				found = ch
			case g.kind == segAnyKey && node.kind == jObject, g.kind == segAnyIndex && node.kind == jArray:
				if walk(ch, i+1) {
					return true
				}
			}
			idx++
		}
		return found >= 0 && walk(found, i+1)
	}
	walk(0, 0)
	return out
}
