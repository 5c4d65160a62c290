package filterpattern

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxRegexPerPattern is AWS's quota of %regex% items in one filter pattern.
const MaxRegexPerPattern = 2

// MaxPatternLength is the longest filter pattern AWS accepts, in characters (all APIs: 0–1024).
const MaxPatternLength = 1024

// ErrInvalidPattern is wrapped by every error Compile returns.
var ErrInvalidPattern = errors.New("invalid filter pattern")

// SyntaxError describes why a pattern was rejected. Its Error text is suitable as the message of
// an InvalidParameterException.
type SyntaxError struct {
	Pos int    // 1-based byte position in the pattern, 0 when the error is not about one place
	Msg string // what is wrong and, where possible, how to fix it
}

func (e *SyntaxError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("Invalid filter pattern: %s at position %d", e.Msg, e.Pos)
	}
	return "Invalid filter pattern: " + e.Msg
}

func (e *SyntaxError) Unwrap() error { return ErrInvalidPattern }

// Kind is the shape of a pattern, decided by its first non-blank character.
type Kind uint8

const (
	KindAll       Kind = iota // empty pattern: matches every event
	KindTerms                 // unstructured terms, phrases and %regex% items
	KindJSON                  // { … }
	KindDelimited             // [ … ]
)

func (k Kind) String() string {
	switch k {
	case KindAll:
		return "all"
	case KindTerms:
		return "terms"
	case KindJSON:
		return "json"
	case KindDelimited:
		return "delimited"
	}
	return "unknown"
}

// Pattern is a compiled filter pattern. It is immutable and safe for concurrent use.
type Pattern struct {
	kind   Kind
	terms  *termPattern
	json   *jsonPattern
	delim  *delimPattern
	nregex int
}

// Compile parses a filter pattern. The empty (or all-blank) pattern matches every event.
func Compile(pattern string) (*Pattern, error) {
	if n := utf8.RuneCountInString(pattern); n > MaxPatternLength {
		return nil, &SyntaxError{Msg: fmt.Sprintf("the filter pattern is %d characters long; the maximum is %d", n, MaxPatternLength)}
	}
	start, end := 0, len(pattern)
	for start < end && isSpace(pattern[start]) {
		start++
	}
	for end > start && isSpace(pattern[end-1]) {
		end--
	}
	if start == end {
		return &Pattern{kind: KindAll}, nil
	}
	// AWS checks the closing character first: "If a filter pattern starts with '{' it must end
	// with '}'" (jorgebastida/awslogs#210); the same is assumed for '['.
	if c := pattern[start]; (c == '{' || c == '[') && pattern[end-1] != c+2 {
		return nil, &SyntaxError{Msg: fmt.Sprintf("if a filter pattern starts with '%c' it must end with '%c'", c, c+2)}
	}
	ps := &parser{src: pattern, pos: start, end: end}
	p := &Pattern{}
	var err error
	switch pattern[start] {
	case '{':
		p.kind = KindJSON
		p.json, err = ps.parseJSONPattern()
	case '[':
		p.kind = KindDelimited
		p.delim, err = ps.parseDelimited()
	default:
		p.kind = KindTerms
		p.terms, err = ps.parseTerms()
	}
	if err != nil {
		return nil, err
	}
	if ps.nregex > MaxRegexPerPattern {
		return nil, &SyntaxError{Msg: fmt.Sprintf("a filter pattern can contain at most %d regular expressions (%%…%%), found %d", MaxRegexPerPattern, ps.nregex)}
	}
	p.nregex = ps.nregex
	return p, nil
}

// MustCompile is Compile for patterns known to be valid; it panics on error.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// Kind reports the pattern's shape.
func (p *Pattern) Kind() Kind { return p.kind }

// RegexCount is the number of %regex% items; AWS limits regex-containing patterns per log group.
func (p *Pattern) RegexCount() int { return p.nregex }

// Match reports whether the log event message matches the pattern.
func (p *Pattern) Match(message string) bool {
	switch p.kind {
	case KindTerms:
		return p.terms.match(message)
	case KindJSON:
		return p.json.match(message)
	case KindDelimited:
		return p.delim.match(message, nil)
	}
	return true
}

// String returns the canonical text of the pattern; Compile(p.String()) is equivalent to p.
func (p *Pattern) String() string {
	switch p.kind {
	case KindTerms:
		return p.terms.String()
	case KindJSON:
		return p.json.String()
	case KindDelimited:
		return p.delim.String()
	}
	return ""
}
