package insights

import (
	"regexp"
	"strconv"
	"strings"
)

// MaxQueryLength is AWS's query string limit.
const MaxQueryLength = 10000

// Parse parses a query and checks it the way AWS does before running it
// (known commands and functions, argument counts, at most two stats, glob
// stars matching aliases, …). Errors are *ParseError.
func Parse(src string) (*Query, error) {
	if len(src) > MaxQueryLength {
		return nil, errAt(src, MaxQueryLength, "query is longer than %d characters", MaxQueryLength)
	}
	p := &parser{lex: lexer{src: src}, src: src}
	if err := p.advance(); err != nil {
		return nil, err
	}
	q, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	q.Text = src
	if err := check(q); err != nil {
		return nil, err
	}
	if err := compileCheck(q); err != nil {
		return nil, err
	}
	return q, nil
}

// compileCheck compiles every segment once so that errors found while
// compiling (arguments, CIDRs, regexes, periods) are parse errors too:
// StartQuery must reject a malformed query before it runs.
func compileCheck(q *Query) error {
	pl := newPlan(q, 0)
	for i, seg := range pl.segs {
		c := &compiler{pl: pl}
		if _, err := compileOps(c, seg.ops); err != nil {
			return err
		}
		bar, err := newBarrier(pl, seg, i == 0)
		if err != nil {
			return err
		}
		if _, err := bar.newWorker(c); err != nil {
			return err
		}
	}
	return nil
}

type parser struct {
	lex     lexer
	src     string
	tok     token
	prevEnd int
}

func (p *parser) advance() error {
	p.prevEnd = p.tok.end
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// relexRegex re-reads the current `/` token as a regular expression.
func (p *parser) relexRegex() error {
	p.lex.pos = p.tok.pos
	t, err := p.lex.lexRegex()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errf(format string, args ...any) *ParseError {
	e := errAt(p.src, p.tok.pos, format, args...)
	if p.tok.end > e.End {
		e.End = p.tok.end
	}
	return e
}

func (p *parser) unexpected(want string) *ParseError {
	got := tokNames[p.tok.kind]
	if p.tok.kind != tEOF {
		got = strconv.Quote(p.src[p.tok.pos:p.tok.end])
	}
	return p.errf("unexpected %s, expected %s", got, want)
}

func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.val, kw) && p.src[p.tok.pos] != '`'
}

func (p *parser) expect(k tokKind, want string) (token, error) {
	if p.tok.kind != k {
		return token{}, p.unexpected(want)
	}
	t := p.tok
	return t, p.advance()
}

func (p *parser) parseQuery() (*Query, error) {
	q := &Query{}
	if p.isKeyword("source") {
		s, err := p.parseSource()
		if err != nil {
			return nil, err
		}
		q.Source = s
		if p.tok.kind == tEOF {
			return nil, p.unexpected("a command after SOURCE")
		}
		if _, err := p.expect(tPipe, "|"); err != nil {
			return nil, err
		}
	}
	for {
		c, err := p.parseCommand()
		if err != nil {
			return nil, err
		}
		q.Commands = append(q.Commands, c)
		if p.tok.kind == tEOF {
			return q, nil
		}
		if _, err := p.expect(tPipe, "| or end of query"); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseSource() (*SourceCmd, error) {
	s := &SourceCmd{P: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.isKeyword("logGroups") {
		return nil, p.unexpected("logGroups(")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	for p.tok.kind != tRParen {
		if len(s.Args) > 0 {
			if _, err := p.expect(tComma, ","); err != nil {
				return nil, err
			}
		}
		name, err := p.expect(tIdent, "namePrefix, accountIdentifiers or class")
		if err != nil {
			return nil, err
		}
		switch name.val {
		case "namePrefix", "accountIdentifiers", "class":
		default:
			return nil, errAt(p.src, name.pos, "unknown logGroups argument %q", name.val)
		}
		if _, err := p.expect(tColon, ":"); err != nil {
			return nil, err
		}
		if _, err := p.expect(tLBrack, "["); err != nil {
			return nil, err
		}
		arg := SourceArg{Name: name.val}
		for p.tok.kind != tRBrack {
			if len(arg.Values) > 0 {
				if _, err := p.expect(tComma, ","); err != nil {
					return nil, err
				}
			}
			v, err := p.expect(tString, "a quoted string")
			if err != nil {
				return nil, err
			}
			arg.Values = append(arg.Values, v.val)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		s.Args = append(s.Args, arg)
	}
	return s, p.advance()
}

func (p *parser) parseCommand() (Command, error) {
	if p.tok.kind != tIdent {
		return nil, p.unexpected("a command")
	}
	pos := p.tok.pos
	name := strings.ToLower(p.tok.val)
	if p.src[pos] == '`' {
		return nil, p.unexpected("a command")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch name {
	case "fields":
		items, err := p.parseProjections(true)
		return &FieldsCmd{Items: items, P: pos}, err
	case "display":
		items, err := p.parseProjections(true)
		return &DisplayCmd{Items: items, P: pos}, err
	case "filter", "filterindex":
		e, err := p.parseExpr()
		return &FilterCmd{Expr: e, Index: name == "filterindex", P: pos}, err
	case "stats":
		return p.parseStats(pos)
	case "sort":
		return p.parseSort(pos)
	case "limit", "head":
		c := &LimitCmd{P: pos}
		if name == "limit" && p.isKeyword("any") {
			c.Any = true
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		t, err := p.expect(tNumber, "a row count")
		if err != nil {
			return nil, err
		}
		n, err2 := strconv.Atoi(t.val)
		if err2 != nil || n < 1 || n > MaxRows {
			return nil, errAt(p.src, t.pos, "limit must be between 1 and %d", MaxRows)
		}
		c.N = n
		return c, nil
	case "parse":
		return p.parseParse(pos)
	case "dedup":
		names, err := p.parseNames()
		return &DedupCmd{Fields: names, P: pos}, err
	case "unmask":
		c := &UnmaskCmd{P: pos}
		if p.tok.kind == tIdent {
			c.Arg = p.tok.val
			return c, p.advance()
		}
		return c, nil
	case "unnest":
		t, err := p.expect(tIdent, "a field name")
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("into") {
			return nil, p.unexpected("into")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		into, err := p.expect(tIdent, "a field name")
		if err != nil {
			return nil, err
		}
		return &UnnestCmd{Field: t.val, Into: into.val, P: pos}, nil
	case "pattern":
		t, err := p.expect(tIdent, "a field name")
		if err != nil {
			return nil, err
		}
		return &PatternCmd{Field: t.val, P: pos}, nil
	case "diff":
		c := &DiffCmd{P: pos}
		if p.tok.kind == tIdent {
			switch strings.ToLower(p.tok.val) {
			case "previousday":
				c.Period = "previousDay"
			case "previousweek":
				c.Period = "previousWeek"
			case "previousmonth":
				c.Period = "previousMonth"
			default:
				return nil, p.unexpected("previousDay, previousWeek or previousMonth")
			}
			return c, p.advance()
		}
		return c, nil
	case "source":
		return nil, errAt(p.src, pos, "SOURCE must be the first command of the query")
	case "anomaly", "lookup", "join", "addtotals", "logcompare", "filterindexes":
		return nil, errAt(p.src, pos, "command %q is not supported", name)
	}
	return nil, errAt(p.src, pos, "unknown command %q", p.src[pos:p.prevEnd])
}

func (p *parser) parseNames() ([]string, error) {
	var names []string
	for {
		t, err := p.expect(tIdent, "a field name")
		if err != nil {
			return nil, err
		}
		names = append(names, t.val)
		if p.tok.kind != tComma {
			return names, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseProjection(allowAlias bool) (Projection, error) {
	start := p.tok.pos
	e, err := p.parseExpr()
	if err != nil {
		return Projection{}, err
	}
	pr := Projection{Expr: e, Raw: p.src[start:p.prevEnd]}
	if allowAlias && p.isKeyword("as") {
		if err := p.advance(); err != nil {
			return pr, err
		}
		t, err := p.expect(tIdent, "an alias")
		if err != nil {
			return pr, err
		}
		pr.Alias = t.val
	}
	return pr, nil
}

func (p *parser) parseProjections(allowAlias bool) ([]Projection, error) {
	var out []Projection
	for {
		pr, err := p.parseProjection(allowAlias)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
		if p.tok.kind != tComma {
			return out, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseStats(pos int) (Command, error) {
	c := &StatsCmd{P: pos}
	for {
		pr, err := p.parseProjection(true)
		if err != nil {
			return nil, err
		}
		c.Aggs = append(c.Aggs, pr)
		if p.tok.kind != tComma {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.isKeyword("by") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		by, err := p.parseProjections(true)
		if err != nil {
			return nil, err
		}
		c.By = by
	}
	return c, nil
}

func (p *parser) parseSort(pos int) (Command, error) {
	c := &SortCmd{P: pos}
	if p.isKeyword("by") {
		c.By = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		k := SortKey{Expr: e}
		if p.isKeyword("asc") || p.isKeyword("desc") {
			k.Dir, k.Desc = true, p.isKeyword("desc")
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		c.Keys = append(c.Keys, k)
		if p.tok.kind != tComma {
			return c, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseParse(pos int) (Command, error) {
	c := &ParseCmd{P: pos}
	if p.tok.kind == tIdent {
		c.Field = p.tok.val
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	switch p.tok.kind {
	case tSlash:
		if err := p.relexRegex(); err != nil {
			return nil, err
		}
		c.Regex, c.Pattern = true, p.tok.val
		re, err := compileRegex(c.Pattern)
		if err != nil {
			return nil, p.errf("invalid regular expression: %v", err)
		}
		for _, n := range re.SubexpNames() {
			if n != "" {
				c.Aliases = append(c.Aliases, n)
			}
		}
		if len(c.Aliases) == 0 {
			return nil, p.errf("parse with a regular expression needs named groups (?<name>…)")
		}
		return c, p.advance()
	case tString:
		c.Pattern = p.tok.val
		starPos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isKeyword("as") {
			return nil, p.unexpected("as")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		names, err := p.parseNames()
		if err != nil {
			return nil, err
		}
		c.Aliases = names
		if n := strings.Count(c.Pattern, "*"); n != len(names) {
			return nil, errAt(p.src, starPos, "parse pattern has %d * but %d names follow as", n, len(names))
		}
		return c, nil
	}
	return nil, p.unexpected("a quoted pattern or /regex/")
}

// Expressions, loosest first: or, and, not, comparison, + -, * / %, ^, unary.

func (p *parser) parseExpr() (Expr, error) { return p.parseOr() }

func (p *parser) parseOr() (Expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: "or", L: l, R: r, P: pos}
	}
	return l, nil
}

func (p *parser) parseAnd() (Expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: "and", L: l, R: r, P: pos}
	}
	return l, nil
}

func (p *parser) parseNot() (Expr, error) {
	if p.isKeyword("not") {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{Op: "not", X: x, P: pos}, nil
	}
	return p.parseCmp()
}

var cmpOps = map[tokKind]string{tEq: "=", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">="}

func (p *parser) parseCmp() (Expr, error) {
	l, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	pos := p.tok.pos
	if op, ok := cmpOps[p.tok.kind]; ok {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAdd()
		if err != nil {
			return nil, err
		}
		return &BinaryExpr{Op: op, L: l, R: r, P: pos}, nil
	}
	if p.tok.kind == tMatch {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parsePattern()
		if err != nil {
			return nil, err
		}
		return &LikeExpr{X: l, Pattern: r, Tilde: true, P: pos}, nil
	}
	not := false
	if p.isKeyword("not") {
		not = true
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isKeyword("like") && !p.isKeyword("in") {
			return nil, p.unexpected("like or in after not")
		}
	}
	switch {
	case p.isKeyword("like"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parsePattern()
		if err != nil {
			return nil, err
		}
		return &LikeExpr{X: l, Pattern: r, Not: not, P: pos}, nil
	case p.isKeyword("in"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLBrack {
			return nil, p.unexpected("[ (a list of values)")
		}
		lst, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		return &InExpr{X: l, List: lst.(*ListLit), Not: not, P: pos}, nil
	}
	return l, nil
}

// parsePattern reads the right side of like / =~: a string or a regex.
func (p *parser) parsePattern() (Expr, error) {
	if p.tok.kind == tSlash {
		if err := p.relexRegex(); err != nil {
			return nil, err
		}
	}
	switch p.tok.kind {
	case tRegex:
		e := &RegexLit{Pattern: p.tok.val, P: p.tok.pos}
		if _, err := compileRegex(e.Pattern); err != nil {
			return nil, p.errf("invalid regular expression: %v", err)
		}
		return e, p.advance()
	case tString:
		e := &StringLit{Val: p.tok.val, P: p.tok.pos}
		return e, p.advance()
	}
	return nil, p.unexpected("a string or /regex/")
}

func (p *parser) parseAdd() (Expr, error) {
	l, err := p.parseMul()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tPlus || p.tok.kind == tMinus {
		op, pos := tokNames[p.tok.kind], p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseMul()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: op, L: l, R: r, P: pos}
	}
	return l, nil
}

func (p *parser) parseMul() (Expr, error) {
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tStar || p.tok.kind == tSlash || p.tok.kind == tPercent {
		op, pos := tokNames[p.tok.kind], p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: op, L: l, R: r, P: pos}
	}
	return l, nil
}

func (p *parser) parsePow() (Expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tCaret {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		return &BinaryExpr{Op: "^", L: l, R: r, P: pos}, nil
	}
	return l, nil
}

func (p *parser) parseUnary() (Expr, error) {
	if p.tok.kind == tMinus {
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{Op: "-", X: x, P: pos}, nil
	}
	return p.parsePrimary()
}

var reservedWords = map[string]bool{"and": true, "or": true, "not": true, "in": true, "like": true, "as": true, "by": true}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.tok
	switch t.kind {
	case tNumber:
		v, _ := strconv.ParseFloat(t.val, 64)
		return &NumberLit{Text: t.val, Val: v, P: t.pos}, p.advance()
	case tDuration:
		return parseDuration(t.val, t.pos), p.advance()
	case tString:
		return &StringLit{Val: t.val, P: t.pos}, p.advance()
	case tSlash:
		return p.parsePattern()
	case tLBrack:
		if err := p.advance(); err != nil {
			return nil, err
		}
		l := &ListLit{P: t.pos}
		for p.tok.kind != tRBrack {
			if len(l.Elems) > 0 {
				if _, err := p.expect(tComma, ", or ]"); err != nil {
					return nil, err
				}
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			l.Elems = append(l.Elems, e)
		}
		return l, p.advance()
	case tLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return &ParenExpr{X: x, P: t.pos}, nil
	case tIdent:
		if p.src[t.pos] != '`' && reservedWords[strings.ToLower(t.val)] {
			return nil, p.unexpected("an expression")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen || p.src[t.pos] == '`' {
			return &FieldRef{Name: t.val, P: t.pos}, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c := &CallExpr{Name: t.val, P: t.pos}
		if p.tok.kind == tStar {
			c.Star = true
			if err := p.advance(); err != nil {
				return nil, err
			}
		} else {
			for p.tok.kind != tRParen {
				if len(c.Args) > 0 {
					if _, err := p.expect(tComma, ", or )"); err != nil {
						return nil, err
					}
				}
				e, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				c.Args = append(c.Args, e)
			}
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, p.unexpected("an expression")
}

// compileRegex accepts the Hyperscan-style syntax AWS documents; Go's RE2
// already understands (?<name>…) and (?i).
func compileRegex(s string) (*regexp.Regexp, error) {
	return regexp.Compile(s)
}
