package filterpattern

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// parser holds the state shared by the three pattern grammars.
type parser struct {
	src    string
	pos    int
	end    int // patterns are parsed up to end; trailing blanks are not part of them
	nregex int
	nwild  int // wildcard JSON selectors seen so far
}

var spaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\f': true, '\v': true}

func isSpace(c byte) bool { return spaceTab[c] }

// isWordByte is the set of characters a bare term may contain. AWS says "alphanumeric or
// underscore"; bytes of multi-byte UTF-8 characters are counted as letters so that non-English
// words are not split apart.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) atEnd() bool { return p.pos >= p.end }

func (p *parser) peek() byte {
	if p.pos >= p.end {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) skipSpace() {
	for p.pos < p.end && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

func (p *parser) hasPrefix(s string) bool { return strings.HasPrefix(p.src[p.pos:p.end], s) }

// describe names the character at pos for error messages.
func (p *parser) describe(pos int) string {
	if pos >= p.end {
		return "end of pattern"
	}
	return fmt.Sprintf("%q", p.src[pos])
}

// quoted reads a double-quoted string at p.pos. \" and \\ are escapes (the two escapes AWS CDK's
// quoteTerm produces); any other backslash is kept literally so that "C:\temp" means what it says.
func (p *parser) quoted() (string, error) {
	open := p.pos
	p.pos++
	var b strings.Builder
	seg := p.pos
	for p.pos < p.end {
		switch p.src[p.pos] {
		case '"':
			var s string
			if b.Len() == 0 {
				s = p.src[seg:p.pos]
			} else {
				b.WriteString(p.src[seg:p.pos])
				s = b.String()
			}
			p.pos++
			return s, nil
		case '\\':
			if p.pos+1 < p.end && (p.src[p.pos+1] == '"' || p.src[p.pos+1] == '\\') {
				b.WriteString(p.src[seg:p.pos])
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
				seg = p.pos
				continue
			}
		}
		p.pos++
	}
	return "", p.errAt(open, "unterminated quoted string (add the closing '\"')")
}

// quote renders s as a double-quoted string that quoted() reads back unchanged.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isRegexByte is AWS's list of characters allowed between the percent signs: letters, digits,
// the symbols _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \ * + . — plus ':' (listed in
// some revisions of the page) and the blank, which AWS accepts although the list omits it
// (aws-cdk#36901 quotes the accepted metric filter `%Task timed out after|^REPORT\s.+\sStatus: timeout%`).
func isRegexByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte(" :_#=@/;,-^$?[]{}|\\*+.", c) >= 0
}

// regex reads a %regex% item at p.pos.
func (p *parser) regex() (*regexp.Regexp, string, error) {
	open := p.pos
	p.pos++
	start := p.pos
	for p.pos < p.end && p.src[p.pos] != '%' {
		p.pos++
	}
	if p.pos >= p.end {
		return nil, "", p.errAt(open, "unterminated regular expression (add the closing '%%')")
	}
	body := p.src[start:p.pos]
	p.pos++
	if body == "" {
		return nil, "", p.errAt(open, "empty regular expression '%%%%'")
	}
	// AWS answers "Invalid character(s) in term" and its guide suggests \xNN escapes for
	// characters the list leaves out (ministryofjustice/modernisation-platform-environments#5137).
	for i := 0; i < len(body); i++ {
		c := body[i]
		term := p.src[open:p.pos]
		switch {
		case c == '(' || c == ')':
			return nil, "", p.errAt(start+i, "invalid character(s) in term '%s': parentheses are not supported in regular expressions; match a literal %q with \\x%02x", term, c, c)
		case c >= 0x80:
			return nil, "", p.errAt(start+i, "invalid character(s) in term '%s': multi-byte characters are not supported in regular expressions", term)
		case !isRegexByte(c):
			return nil, "", p.errAt(start+i, "invalid character(s) in term '%s': %q is not supported in regular expressions; match it with \\x%02x", term, c, c)
		}
	}
	re, err := regexp.Compile(body)
	if err != nil {
		msg := err.Error()
		if e, ok := err.(*syntax.Error); ok {
			msg = string(e.Code) + ": " + e.Expr
		}
		return nil, "", p.errAt(open, "invalid regular expression %%%s%%: %s", body, msg)
	}
	p.nregex++
	return re, body, nil
}

// isNumber reports whether s is a decimal number as filter patterns write them: optional sign,
// digits with an optional fraction, optional exponent (1, -2.5, .5, 1e-3, +1E+3).
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}
