package insights

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDuration
	tRegex
	tPipe
	tComma
	tLParen
	tRParen
	tLBrack
	tRBrack
	tColon
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tMatch // =~
	tPlus
	tMinus
	tStar
	tSlash
	tCaret
	tPercent
)

var tokNames = map[tokKind]string{
	tEOF: "end of query", tIdent: "identifier", tString: "string", tNumber: "number",
	tDuration: "time period", tRegex: "regular expression", tPipe: "|", tComma: ",",
	tLParen: "(", tRParen: ")", tLBrack: "[", tRBrack: "]", tColon: ":", tEq: "=",
	tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">=", tMatch: "=~", tPlus: "+",
	tMinus: "-", tStar: "*", tSlash: "/", tCaret: "^", tPercent: "%",
}

type token struct {
	kind tokKind
	pos  int    // byte offset of the first character
	end  int    // byte offset after the last character
	val  string // identifier name (backquotes removed), string or regex contents
}

// lexer reads one token at a time. The parser drives it because `/` is a
// regex in operand position and a division elsewhere; the parser re-reads a
// `/` as a regex when it expects an operand.
type lexer struct {
	src string
	pos int
}

// ParseError is a malformed query; the API maps it to
// MalformedQueryException and its message names the line and column.
type ParseError struct {
	Line, Column int // 1-based; the column counts characters
	Offset       int // byte offset into the query
	End          int // byte offset after the offending token (≥ Offset), for queryCompileError.location
	Msg          string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func errAt(src string, off int, format string, args ...any) *ParseError {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	end := off
	if end < len(src) {
		end++
	}
	return &ParseError{Line: line, Column: col, Offset: off, End: end, Msg: fmt.Sprintf(format, args...)}
}

// Identifiers are ASCII letters, digits, _ @ . and any non-ASCII UTF-8.
func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@' || c == '`' || c >= 0x80
}

func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@' || c == '.' || c >= 0x80
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

func (l *lexer) next() (token, error) {
	l.skipSpace()
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[l.pos]
	tok := func(k tokKind, n int) (token, error) {
		l.pos += n
		return token{kind: k, pos: start, end: l.pos}, nil
	}
	peek := byte(0)
	if l.pos+1 < len(l.src) {
		peek = l.src[l.pos+1]
	}
	switch {
	case c == '|':
		return tok(tPipe, 1)
	case c == ',':
		return tok(tComma, 1)
	case c == '(':
		return tok(tLParen, 1)
	case c == ')':
		return tok(tRParen, 1)
	case c == '[':
		return tok(tLBrack, 1)
	case c == ']':
		return tok(tRBrack, 1)
	case c == ':':
		return tok(tColon, 1)
	case c == '=' && peek == '~':
		return tok(tMatch, 2)
	case c == '=' && peek == '=':
		return tok(tEq, 2)
	case c == '=':
		return tok(tEq, 1)
	case c == '!' && peek == '=':
		return tok(tNe, 2)
	case c == '<' && peek == '=':
		return tok(tLe, 2)
	case c == '<' && peek == '>':
		return tok(tNe, 2)
	case c == '<':
		return tok(tLt, 1)
	case c == '>' && peek == '=':
		return tok(tGe, 2)
	case c == '>':
		return tok(tGt, 1)
	case c == '+':
		return tok(tPlus, 1)
	case c == '-':
		return tok(tMinus, 1)
	case c == '*':
		return tok(tStar, 1)
	case c == '/':
		return tok(tSlash, 1)
	case c == '^':
		return tok(tCaret, 1)
	case c == '%':
		return tok(tPercent, 1)
	case c == '"' || c == '\'':
		return l.lexString(c)
	case c >= '0' && c <= '9' || c == '.' && peek >= '0' && peek <= '9':
		return l.lexNumber()
	case isIdentStart(c):
		return l.lexIdent()
	}
	return token{}, errAt(l.src, start, "unexpected character %q", rune(c))
}

func (l *lexer) lexString(q byte) (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return token{kind: tString, pos: start, end: l.pos, val: b.String()}, nil
		case c == '\\' && l.pos+1 < len(l.src):
			n := l.src[l.pos+1]
			switch n {
			case '"', '\'', '\\':
				b.WriteByte(n)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				// Unknown escapes stay as written: users put regex-like text in strings.
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			l.pos += 2
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, errAt(l.src, start, "unterminated string")
}

// lexRegex reads /…/ starting at l.pos; `\/` does not end it.
func (l *lexer) lexRegex() (token, error) {
	start := l.pos
	l.pos++
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src):
			l.pos += 2
		case c == '/':
			l.pos++
			return token{kind: tRegex, pos: start, end: l.pos, val: l.src[start+1 : l.pos-1]}, nil
		default:
			l.pos++
		}
	}
	return token{}, errAt(l.src, start, "unterminated regular expression")
}

func (l *lexer) lexNumber() (token, error) {
	start := l.pos
	for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
		l.pos++
	}
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' {
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
			l.pos++
		}
	}
	ustart := l.pos
	for l.pos < len(l.src) && (l.src[l.pos] >= 'a' && l.src[l.pos] <= 'z' || l.src[l.pos] >= 'A' && l.src[l.pos] <= 'Z') {
		l.pos++
	}
	if ustart == l.pos {
		return token{kind: tNumber, pos: start, end: l.pos, val: l.src[start:l.pos]}, nil
	}
	if l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		return token{}, errAt(l.src, start, "invalid number %q", l.src[start:l.pos+1])
	}
	if _, ok := canonicalUnit(l.src[ustart:l.pos]); !ok {
		return token{}, errAt(l.src, ustart, "unknown time unit %q", l.src[ustart:l.pos])
	}
	return token{kind: tDuration, pos: start, end: l.pos, val: l.src[start:l.pos]}, nil
}

// lexIdent reads a field name: letters, digits, _, @, ., backquoted
// segments, and [n] index suffixes (read as .n).
func (l *lexer) lexIdent() (token, error) {
	start := l.pos
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '`':
			end := strings.IndexByte(l.src[l.pos+1:], '`')
			if end < 0 {
				return token{}, errAt(l.src, l.pos, "unterminated backquoted name")
			}
			b.WriteString(l.src[l.pos+1 : l.pos+1+end])
			l.pos += end + 2
		case isIdentChar(c):
			b.WriteByte(c)
			l.pos++
		case c == '[' && b.Len() > 0:
			j := l.pos + 1
			for j < len(l.src) && l.src[j] >= '0' && l.src[j] <= '9' {
				j++
			}
			if j == l.pos+1 || j >= len(l.src) || l.src[j] != ']' {
				return token{kind: tIdent, pos: start, end: l.pos, val: b.String()}, nil
			}
			b.WriteByte('.')
			b.WriteString(l.src[l.pos+1 : j])
			l.pos = j + 1
		default:
			return token{kind: tIdent, pos: start, end: l.pos, val: b.String()}, nil
		}
	}
	return token{kind: tIdent, pos: start, end: l.pos, val: b.String()}, nil
}

// canonicalUnit maps every spelling of a time unit to ms s m h d w mo q y.
func canonicalUnit(u string) (string, bool) {
	switch strings.ToLower(u) {
	case "ms", "msec", "msecs", "millisecond", "milliseconds":
		return "ms", true
	case "s", "sec", "secs", "second", "seconds":
		return "s", true
	case "m", "min", "mins", "minute", "minutes":
		return "m", true
	case "h", "hr", "hrs", "hour", "hours":
		return "h", true
	case "d", "day", "days":
		return "d", true
	case "w", "week", "weeks":
		return "w", true
	case "mo", "mon", "mons", "month", "months":
		return "mo", true
	case "q", "qtr", "qtrs", "quarter", "quarters":
		return "q", true
	case "y", "yr", "yrs", "year", "years":
		return "y", true
	}
	return "", false
}

func parseDuration(text string, pos int) *DurationLit {
	i := 0
	for i < len(text) && (text[i] >= '0' && text[i] <= '9' || text[i] == '.') {
		i++
	}
	n, _ := strconv.ParseFloat(text[:i], 64)
	u, _ := canonicalUnit(text[i:])
	return &DurationLit{Text: text, N: int64(n), Unit: u, P: pos}
}
