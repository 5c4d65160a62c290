package filterpattern

import (
	"regexp"
	"strings"
)

type termMode uint8

const (
	termRequired termMode = iota // plain term: must occur
	termOptional                 // ?term: one of them must occur, see optionalTermsApply
	termExcluded                 // -term: must not occur
)

// termItem is one term, phrase or regex of an unstructured pattern. Terms and phrases match as
// case-sensitive substrings (AWS's own examples: ERROR matches "ERRORCODE", Exception matches
// "IllegalArgumentException"); regexes are unanchored searches.
type termItem struct {
	mode  termMode
	text  string
	re    *regexp.Regexp
	reSrc string
}

func (it *termItem) match(msg string) bool {
	if it.re != nil {
		return it.re.MatchString(msg)
	}
	return strings.Contains(msg, it.text)
}

type termPattern struct {
	items    []termItem // in pattern order, for String
	required []termItem // substring items first, regexes last: cheap checks run first
	excluded []termItem
	optional []termItem
}

// parseTerms reads an unstructured pattern. Items are separated by blanks. An unquoted term may
// only contain letters, digits and '_'; any other character inside an unquoted token splits it
// (AWS: such terms "must be placed inside double quotes"), and a '-' inside a token starts an
// exclusion, so ORDER-ITEM-1 is ORDER -ITEM -1 — which reproduces AWS's observed "an unquoted
// hyphenated term matches nothing". A token may start with '?' (optional) or '-' (excluded);
// blanks may follow the '-' ("ERROR" - "Exiting" in AWS's guide).
func (p *parser) parseTerms() (*termPattern, error) {
	t := &termPattern{}
	for {
		p.skipSpace()
		if p.atEnd() {
			break
		}
		mode := termRequired
		if c := p.peek(); c == '?' || c == '-' {
			prefix := p.pos
			mode = termOptional
			if c == '-' {
				mode = termExcluded
			}
			p.pos++
			p.skipSpace()
			n := p.peek()
			if p.atEnd() || !(isWordByte(n) || n == '"' || n == '%') {
				return nil, p.errAt(prefix, "%q must be followed by a term, a quoted phrase or a %%regex%%, found %s", c, p.describe(p.pos))
			}
		}
		next := mode
		for !p.atEnd() && !isSpace(p.peek()) {
			c := p.peek()
			switch {
			case c == '"' || c == '%' || isWordByte(c):
				it, err := p.termItem(next)
				if err != nil {
					return nil, err
				}
				t.items = append(t.items, it)
				next = mode
			case c == '-' && p.pos+1 < p.end && (isWordByte(p.src[p.pos+1]) || p.src[p.pos+1] == '"' || p.src[p.pos+1] == '%'):
				p.pos++
				next = termExcluded
			default:
				p.pos++ // unquoted punctuation separates terms
			}
		}
	}
	if len(t.items) == 0 {
		return nil, p.errAt(0, "no term found; put terms that contain punctuation inside double quotes")
	}
	for _, it := range t.items {
		switch it.mode {
		case termRequired:
			t.required = append(t.required, it)
		case termExcluded:
			t.excluded = append(t.excluded, it)
		case termOptional:
			t.optional = append(t.optional, it)
		}
	}
	moveRegexLast(t.required)
	moveRegexLast(t.excluded)
	moveRegexLast(t.optional)
	return t, nil
}

func moveRegexLast(items []termItem) {
	j := 0
	for i := range items {
		if items[i].re == nil {
			items[i], items[j] = items[j], items[i]
			j++
		}
	}
}

func (p *parser) termItem(mode termMode) (termItem, error) {
	switch c := p.peek(); {
	case c == '"':
		s, err := p.quoted()
		return termItem{mode: mode, text: s}, err
	case c == '%':
		re, src, err := p.regex()
		return termItem{mode: mode, re: re, reSrc: src}, err
	}
	start := p.pos
	for !p.atEnd() && isWordByte(p.peek()) {
		p.pos++
	}
	return termItem{mode: mode, text: p.src[start:p.pos]}, nil
}

// optionalTermsApply is AWS's documented rule for ?terms: they cannot be combined with other
// terms — if they are, the ?terms are ignored ("?ERROR ?ARGUMENTS REQUEST" matches every event
// containing REQUEST). Only a pattern made purely of ?terms is an OR. This contradicts what
// AWS CDK's anyTermGroup intends; it is kept in one place in case the live service disagrees.
func (t *termPattern) optionalTermsApply() bool {
	return len(t.required) == 0 && len(t.excluded) == 0
}

func (t *termPattern) match(msg string) bool {
	for i := range t.required {
		if !t.required[i].match(msg) {
			return false
		}
	}
	for i := range t.excluded {
		if t.excluded[i].match(msg) {
			return false
		}
	}
	if !t.optionalTermsApply() {
		return true
	}
	for i := range t.optional {
		if t.optional[i].match(msg) {
			return true
		}
	}
	return false
}

func (t *termPattern) String() string {
	var b strings.Builder
	for i, it := range t.items {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch it.mode {
		case termOptional:
			b.WriteByte('?')
		case termExcluded:
			b.WriteByte('-')
		}
		switch {
		case it.re != nil:
			b.WriteString("%" + it.reSrc + "%")
		case isBareTerm(it.text):
			b.WriteString(it.text)
		default:
			b.WriteString(quote(it.text))
		}
	}
	return b.String()
}

func isBareTerm(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}
