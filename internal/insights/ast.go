// Package insights owns the CloudWatch Logs Insights query language in
// flowwatch: the lexer and parser (with MalformedQueryException-ready errors),
// the AST with String() round trips, the planner and the block-at-a-time
// parallel executor over logstore column blocks, the scalar and aggregate
// functions, and the rendering of result rows exactly as AWS renders them.
package insights

import (
	"strconv"
	"strings"
)

// Query is a parsed Logs Insights query.
type Query struct {
	Source   *SourceCmd // optional leading SOURCE command
	Commands []Command
	Text     string // the query text as given
}

// String prints the query in canonical form; parsing the result gives a
// query that prints the same.
func (q *Query) String() string {
	var parts []string
	if q.Source != nil {
		parts = append(parts, q.Source.String())
	}
	for _, c := range q.Commands {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, " | ")
}

// Command is one stage of the pipeline.
type Command interface {
	String() string
	Pos() int // byte offset of the command keyword
}

// Projection is "expr [as alias]".
type Projection struct {
	Expr  Expr
	Alias string
	Raw   string // source text of Expr, used as the column name when unaliased
}

// Name is the output column name: the alias, else the expression text.
func (p Projection) Name() string {
	if p.Alias != "" {
		return p.Alias
	}
	if f, ok := p.Expr.(*FieldRef); ok {
		return f.Name
	}
	return p.Raw
}

func (p Projection) String() string {
	s := p.Expr.String()
	if p.Alias != "" {
		s += " as " + quoteName(p.Alias)
	}
	return s
}

func joinProj(ps []Projection) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// Expressions.

// Expr is an expression node.
type Expr interface {
	String() string
	Pos() int
}

// FieldRef names a field (system, discovered or defined by a command).
type FieldRef struct {
	Name string
	P    int
}

// StringLit is a quoted string.
type StringLit struct {
	Val string
	P   int
}

// NumberLit is a numeric literal; Text keeps its spelling.
type NumberLit struct {
	Text string
	Val  float64
	P    int
}

// DurationLit is a time period such as 5m (arguments of bin, datefloor…).
type DurationLit struct {
	Text string // as written
	N    int64
	Unit string // canonical unit: ms s m h d w mo q y
	P    int
}

// RegexLit is /pattern/.
type RegexLit struct {
	Pattern string
	P       int
}

// ListLit is [a, b, …].
type ListLit struct {
	Elems []Expr
	P     int
}

// UnaryExpr is -x or not x.
type UnaryExpr struct {
	Op string // "-" or "not"
	X  Expr
	P  int
}

// BinaryExpr covers arithmetic, comparison and boolean operators.
type BinaryExpr struct {
	Op   string // + - * / % ^ = != < <= > >= and or
	L, R Expr
	P    int
}

// LikeExpr is x [not] like y, and x =~ /re/.
type LikeExpr struct {
	X, Pattern Expr
	Not        bool
	Tilde      bool // written with =~
	P          int
}

// InExpr is x [not] in [list].
type InExpr struct {
	X    Expr
	List *ListLit
	Not  bool
	P    int
}

// ParenExpr keeps the user's parentheses so String() gives them back.
type ParenExpr struct {
	X Expr
	P int
}

// CallExpr is a function call; Star marks count(*).
type CallExpr struct {
	Name string // as written
	Args []Expr
	Star bool
	P    int
}

func (e *FieldRef) Pos() int    { return e.P }
func (e *StringLit) Pos() int   { return e.P }
func (e *NumberLit) Pos() int   { return e.P }
func (e *DurationLit) Pos() int { return e.P }
func (e *RegexLit) Pos() int    { return e.P }
func (e *ListLit) Pos() int     { return e.P }
func (e *UnaryExpr) Pos() int   { return e.P }
func (e *BinaryExpr) Pos() int  { return e.P }
func (e *LikeExpr) Pos() int    { return e.P }
func (e *InExpr) Pos() int      { return e.P }
func (e *ParenExpr) Pos() int   { return e.P }
func (e *CallExpr) Pos() int    { return e.P }

func (e *FieldRef) String() string    { return quoteName(e.Name) }
func (e *StringLit) String() string   { return quoteString(e.Val) }
func (e *NumberLit) String() string   { return e.Text }
func (e *DurationLit) String() string { return e.Text }
func (e *RegexLit) String() string    { return "/" + e.Pattern + "/" }
func (e *ListLit) String() string {
	s := make([]string, len(e.Elems))
	for i, x := range e.Elems {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}
func (e *UnaryExpr) String() string {
	if e.Op == "not" {
		return "not " + e.X.String()
	}
	return e.Op + e.X.String()
}
func (e *BinaryExpr) String() string { return e.L.String() + " " + e.Op + " " + e.R.String() }
func (e *LikeExpr) String() string {
	switch {
	case e.Tilde:
		return e.X.String() + " =~ " + e.Pattern.String()
	case e.Not:
		return e.X.String() + " not like " + e.Pattern.String()
	}
	return e.X.String() + " like " + e.Pattern.String()
}
func (e *InExpr) String() string {
	if e.Not {
		return e.X.String() + " not in " + e.List.String()
	}
	return e.X.String() + " in " + e.List.String()
}
func (e *ParenExpr) String() string { return "(" + e.X.String() + ")" }
func (e *CallExpr) String() string {
	if e.Star {
		return e.Name + "(*)"
	}
	s := make([]string, len(e.Args))
	for i, x := range e.Args {
		s[i] = x.String()
	}
	return e.Name + "(" + strings.Join(s, ", ") + ")"
}

// quoteName backquotes a field name that the lexer would not read back as
// one identifier.
func quoteName(n string) string {
	if n == "" {
		return "``"
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if isIdentChar(c) || (c >= 0x80) {
			continue
		}
		return "`" + n + "`"
	}
	if c := n[0]; c >= '0' && c <= '9' || c == '.' || n[len(n)-1] == '.' || strings.Contains(n, "..") {
		return "`" + n + "`"
	}
	return n
}

func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Commands.

// FieldsCmd is `fields`.
type FieldsCmd struct {
	Items []Projection
	P     int
}

// DisplayCmd is `display`.
type DisplayCmd struct {
	Items []Projection
	P     int
}

// FilterCmd is `filter` (and `filterIndex`, run as a filter).
type FilterCmd struct {
	Expr  Expr
	Index bool
	P     int
}

// StatsCmd is `stats aggs [by keys]`.
type StatsCmd struct {
	Aggs []Projection
	By   []Projection
	P    int
}

// SortKey is one key of `sort`.
type SortKey struct {
	Expr Expr
	Desc bool
	Dir  bool // direction written explicitly
}

// SortCmd is `sort [by] k [asc|desc], …`.
type SortCmd struct {
	Keys []SortKey
	By   bool
	P    int
}

// LimitCmd is `limit [any] N` (and the deprecated `head N`).
type LimitCmd struct {
	N   int
	Any bool
	P   int
}

// ParseCmd is `parse [field] "glob" as a, b` or `parse [field] /regex/`.
type ParseCmd struct {
	Field   string // "" means @message, written implicitly
	Pattern string
	Regex   bool
	Aliases []string // glob: the as list; regex: the named groups
	P       int
}

// DedupCmd is `dedup f1, f2`.
type DedupCmd struct {
	Fields []string
	P      int
}

// UnmaskCmd is `unmask` (a no-op: flowwatch has no data protection).
type UnmaskCmd struct {
	Arg string
	P   int
}

// UnnestCmd is `unnest list into name`.
type UnnestCmd struct {
	Field, Into string
	P           int
}

// PatternCmd is `pattern field`.
type PatternCmd struct {
	Field string
	P     int
}

// DiffCmd is `diff [previousDay|previousWeek|previousMonth]`.
type DiffCmd struct {
	Period string // "" for the preceding range of equal length
	P      int
}

// SourceCmd is the leading `SOURCE logGroups(...)`; the API layer resolves it.
type SourceCmd struct {
	Args []SourceArg
	P    int
}

// SourceArg is one `name: [values]` argument of logGroups().
type SourceArg struct {
	Name   string
	Values []string
}

func (c *FieldsCmd) Pos() int  { return c.P }
func (c *DisplayCmd) Pos() int { return c.P }
func (c *FilterCmd) Pos() int  { return c.P }
func (c *StatsCmd) Pos() int   { return c.P }
func (c *SortCmd) Pos() int    { return c.P }
func (c *LimitCmd) Pos() int   { return c.P }
func (c *ParseCmd) Pos() int   { return c.P }
func (c *DedupCmd) Pos() int   { return c.P }
func (c *UnmaskCmd) Pos() int  { return c.P }
func (c *UnnestCmd) Pos() int  { return c.P }
func (c *PatternCmd) Pos() int { return c.P }
func (c *DiffCmd) Pos() int    { return c.P }
func (c *SourceCmd) Pos() int  { return c.P }

func (c *FieldsCmd) String() string  { return "fields " + joinProj(c.Items) }
func (c *DisplayCmd) String() string { return "display " + joinProj(c.Items) }
func (c *FilterCmd) String() string {
	if c.Index {
		return "filterIndex " + c.Expr.String()
	}
	return "filter " + c.Expr.String()
}
func (c *StatsCmd) String() string {
	s := "stats " + joinProj(c.Aggs)
	if len(c.By) > 0 {
		s += " by " + joinProj(c.By)
	}
	return s
}
func (c *SortCmd) String() string {
	s := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		s[i] = k.Expr.String()
		if k.Dir {
			if k.Desc {
				s[i] += " desc"
			} else {
				s[i] += " asc"
			}
		}
	}
	if c.By {
		return "sort by " + strings.Join(s, ", ")
	}
	return "sort " + strings.Join(s, ", ")
}
func (c *LimitCmd) String() string {
	if c.Any {
		return "limit any " + strconv.Itoa(c.N)
	}
	return "limit " + strconv.Itoa(c.N)
}
func (c *ParseCmd) String() string {
	s := "parse "
	if c.Field != "" {
		s += quoteName(c.Field) + " "
	}
	if c.Regex {
		return s + "/" + c.Pattern + "/"
	}
	a := make([]string, len(c.Aliases))
	for i, n := range c.Aliases {
		a[i] = quoteName(n)
	}
	return s + quoteString(c.Pattern) + " as " + strings.Join(a, ", ")
}
func (c *DedupCmd) String() string {
	a := make([]string, len(c.Fields))
	for i, n := range c.Fields {
		a[i] = quoteName(n)
	}
	return "dedup " + strings.Join(a, ", ")
}
func (c *UnmaskCmd) String() string {
	if c.Arg != "" {
		return "unmask " + quoteName(c.Arg)
	}
	return "unmask"
}
func (c *UnnestCmd) String() string {
	return "unnest " + quoteName(c.Field) + " into " + quoteName(c.Into)
}
func (c *PatternCmd) String() string { return "pattern " + quoteName(c.Field) }
func (c *DiffCmd) String() string {
	if c.Period != "" {
		return "diff " + c.Period
	}
	return "diff"
}
func (c *SourceCmd) String() string {
	a := make([]string, len(c.Args))
	for i, arg := range c.Args {
		v := make([]string, len(arg.Values))
		for j, s := range arg.Values {
			v[j] = quoteString(s)
		}
		a[i] = arg.Name + ": [" + strings.Join(v, ", ") + "]"
	}
	return "SOURCE logGroups(" + strings.Join(a, ", ") + ")"
}

// walkExpr calls fn on e and every sub-expression, parents first.
func walkExpr(e Expr, fn func(Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *ListLit:
		for _, y := range x.Elems {
			walkExpr(y, fn)
		}
	case *UnaryExpr:
		walkExpr(x.X, fn)
	case *BinaryExpr:
		walkExpr(x.L, fn)
		walkExpr(x.R, fn)
	case *LikeExpr:
		walkExpr(x.X, fn)
		walkExpr(x.Pattern, fn)
	case *InExpr:
		walkExpr(x.X, fn)
		walkExpr(x.List, fn)
	case *ParenExpr:
		walkExpr(x.X, fn)
	case *CallExpr:
		for _, y := range x.Args {
			walkExpr(y, fn)
		}
	}
}
