package insights

import (
	"slices"
	"strings"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// DefaultRows and MaxRows are AWS's result row caps.
const (
	DefaultRows = 10000
	MaxRows     = 100000
)

// vpcFields maps the discovered fields of default-format (v2) VPC flow
// logs to their token position. startTime/endTime (AWS's documentation
// names) and the flow-log format's own lowercase names are accepted as
// hidden aliases: they are never listed, only read when a query names them.
var vpcFields = map[string]int{
	"version": 0, "accountId": 1, "interfaceId": 2, "srcAddr": 3, "dstAddr": 4, "srcPort": 5,
	"dstPort": 6, "protocol": 7, "packets": 8, "bytes": 9, "start": 10, "end": 11, "action": 12,
	"logStatus": 13,
	"startTime": 10, "endTime": 11,
	"account-id": 1, "interface-id": 2, "srcaddr": 3, "dstaddr": 4, "srcport": 5, "dstport": 6,
	"log-status": 13,
}

// VPCFieldNames lists the discovered default-format flow-log fields in
// record order, for GetLogGroupFields.
var VPCFieldNames = []string{"version", "accountId", "interfaceId", "srcAddr", "dstAddr", "srcPort",
	"dstPort", "protocol", "packets", "bytes", "start", "end", "action", "logStatus"}

const vpcTokens = 14

// segment is a run of row-at-a-time commands ended by a barrier (a command
// that needs all rows: stats, sort, limit, dedup, pattern) or the end.
type segment struct {
	ops     []Command
	barrier Command // nil: end of query
	limit   int     // for a sort barrier: rows to keep (0: all)
	// prevStats: the rows come from this stats command; nextSort: the
	// next segment ends in a sort, which makes ordering the stats rows moot.
	prevStats *StatsCmd
	nextSort  bool
	// rowsAfter > 0: the next segment is only a row cap of this many rows
	// (no operators, ending in limit or the end of the query).
	rowsAfter int
}

type plan struct {
	q       *Query
	slotOf  map[string]int
	names   []string
	defined map[string]bool // names some command defines
	read    map[string]bool // names something reads (only these are computed)
	base    []string        // names loaded from blocks in the first segment
	segs    []segment
	columns []string // output columns
	ptr     bool     // rows end with @ptr
	cap     int      // final row cap
	need    logstore.Columns
	// msgFallback: need asks for messages only for blocks without token
	// columns (discovered flow-log fields, the token parse).
	msgFallback bool
	reads       map[string]int // reads per name
	preds       []logstore.TokenPred
	// tokenCols: the token columns read per block shape (ScanQuery.TokenCols);
	// dictCols: those of which only the distinct values are read
	// (ScanQuery.DictCols).
	tokenCols, dictCols map[int][]int
	// msgOutputOnly: only the result columns read @message; lazyMsg: so
	// token blocks come without messages, and the engine rebuilds them
	// for the rows it outputs (lazyCol.msg).
	msgOutputOnly, lazyMsg bool
	// tokenParse is the first-segment parse that maps onto token columns.
	tokenParse *ParseCmd
	// statsColumn maps the space-free text of unaliased stats aggregations
	// to their column names, so that later commands may write count(*).
	statsColumn map[string]string
	// diff: the query ends its pattern with diff, so the first segment
	// also scans the comparison range (diff.go).
	diff *DiffCmd
}

func (pl *plan) slot(name string) int {
	if s, ok := pl.slotOf[name]; ok {
		return s
	}
	s := len(pl.names)
	pl.slotOf[name] = s
	pl.names = append(pl.names, name)
	return s
}

// newPlan lays out slots, decides which fields to load and compute, splits
// the pipeline at barriers and derives the store's projection and
// predicates. apiLimit (StartQuery's limit) replaces the query's final limit.
func newPlan(q *Query, apiLimit int) *plan {
	pl := &plan{q: q, slotOf: map[string]int{}, defined: map[string]bool{}, read: map[string]bool{}, reads: map[string]int{}, statsColumn: map[string]string{}}
	cmds := q.Commands
	pl.cap = DefaultRows
	if n := len(cmds); n > 0 {
		if l, ok := cmds[n-1].(*LimitCmd); ok {
			pl.cap = l.N
			if apiLimit > 0 {
				cmds = cmds[:n-1]
			}
		}
	}
	if apiLimit > 0 {
		pl.cap = min(apiLimit, MaxRows)
	}

	// Walk the pipeline once: reads before any definition in the first
	// segment are base fields; track output columns.
	defined := map[string]bool{}
	inFirst := true
	baseSet := map[string]bool{}
	readName := func(n string) {
		pl.read[n] = true
		pl.reads[n]++
		pl.slot(n)
		if inFirst && !defined[n] && !pl.isJSONPath(n, defined) {
			baseSet[n] = true
		}
		// A path into a defined JSON value reads its root.
		for i := len(n) - 1; i > 0; i-- {
			if n[i] == '.' && defined[n[:i]] {
				pl.read[n[:i]] = true
				pl.slot(n[:i])
			}
		}
	}
	readExpr := func(e Expr) {
		walkExpr(e, func(x Expr) {
			switch f := x.(type) {
			case *FieldRef:
				readName(f.Name)
			case *CallExpr:
				if strings.EqualFold(f.Name, "bin") {
					readName("@timestamp")
				}
				if n, ok := pl.statsColumn[squeeze(f.String())]; ok && defined[n] {
					readName(n)
				}
			}
		})
	}
	// Only names something reads get a slot: rows stay narrow.
	define := func(n string) {
		defined[n] = true
		pl.defined[n] = true
	}
	var cols []string
	defaultCols, statsOut, display := true, false, []string(nil)
	addCols := func(ps []Projection) {
		if defaultCols {
			cols, defaultCols = nil, false
		}
		for _, p := range ps {
			n := p.Name()
			if !containsStr(cols, n) {
				cols = append(cols, n)
			}
		}
	}
	// bareMsg counts `fields`/`display` items that are the base @message as
	// it is: they leave its value alone, like the result columns.
	bareMsg := 0
	countBare := func(items []Projection) {
		for _, p := range items {
			if f, ok := p.Expr.(*FieldRef); ok && f.Name == "@message" && p.Name() == "@message" && !defined["@message"] {
				bareMsg++
			}
		}
	}
	var seg segment
	for i, c := range cmds {
		switch x := c.(type) {
		case *FieldsCmd:
			countBare(x.Items)
			for _, p := range x.Items {
				readExpr(p.Expr)
			}
			for _, p := range x.Items {
				if f, ok := p.Expr.(*FieldRef); !ok || f.Name != p.Name() || pl.isJSONPath(f.Name, defined) {
					define(p.Name())
				}
			}
			addCols(x.Items)
		case *DisplayCmd:
			countBare(x.Items)
			for _, p := range x.Items {
				readExpr(p.Expr)
			}
			display = nil
			for _, p := range x.Items {
				if f, ok := p.Expr.(*FieldRef); !ok || f.Name != p.Name() || pl.isJSONPath(f.Name, defined) {
					define(p.Name())
				}
				display = append(display, p.Name())
			}
		case *FilterCmd:
			readExpr(x.Expr)
		case *ParseCmd:
			readName(parseField(x))
			for _, a := range x.Aliases {
				define(a)
			}
		case *UnnestCmd:
			readName(x.Field)
			define(x.Into)
		case *StatsCmd:
			for _, p := range x.Aggs {
				readExpr(p.Expr)
			}
			for _, p := range x.By {
				readExpr(p.Expr)
			}
			inFirst = false
			defined = map[string]bool{}
			for _, p := range x.By {
				define(p.Name())
			}
			for _, p := range x.Aggs {
				define(p.Name())
				if p.Alias == "" {
					pl.statsColumn[squeeze(p.Raw)] = p.Name()
				}
			}
			cols, defaultCols, statsOut, display = nil, false, true, nil
			addCols(x.By)
			addCols(x.Aggs)
		case *SortCmd:
			for _, k := range x.Keys {
				readExpr(k.Expr)
			}
		case *DedupCmd:
			for _, f := range x.Fields {
				readName(f)
			}
		case *PatternCmd:
			readName(x.Field)
			inFirst = false
			defined = map[string]bool{}
			for _, n := range patternColumns {
				define(n)
			}
			for _, n := range patternExtraColumns {
				define(n)
			}
			cols, defaultCols, statsOut, display = append([]string(nil), patternColumns...), false, true, nil
		case *DiffCmd:
			pl.diff = x
			for _, n := range diffColumns {
				define(n)
			}
			cols = append(cols, diffColumns...)
		}
		switch c.(type) {
		case *StatsCmd, *SortCmd, *LimitCmd, *DedupCmd, *PatternCmd:
			seg.barrier = c
			switch c.(type) {
			case *SortCmd, *DedupCmd:
				seg.limit = sortBound(cmds[i+1:], pl.cap)
			}
			if _, ok := c.(*LimitCmd); ok {
				seg.limit = c.(*LimitCmd).N
			}
			pl.segs = append(pl.segs, seg)
			seg = segment{}
		default:
			seg.ops = append(seg.ops, c)
		}
	}
	// The end of the query keeps the newest rows (or the stats order).
	seg.limit = pl.cap
	pl.segs = append(pl.segs, seg)
	for i := 1; i < len(pl.segs); i++ {
		pl.segs[i].prevStats, _ = pl.segs[i-1].barrier.(*StatsCmd)
		_, pl.segs[i-1].nextSort = pl.segs[i].barrier.(*SortCmd)
		if next := pl.segs[i]; len(next.ops) == 0 {
			switch x := next.barrier.(type) {
			case nil:
				pl.segs[i-1].rowsAfter = next.limit
			case *LimitCmd:
				pl.segs[i-1].rowsAfter = x.N
			}
		}
	}

	switch {
	case display != nil:
		pl.columns = display
	case defaultCols:
		pl.columns = []string{"@timestamp", "@message"}
	default:
		pl.columns = cols
	}
	pl.ptr = !statsOut
	msgReads := pl.reads["@message"]
	for _, n := range pl.columns {
		readName(n)
	}
	pl.msgOutputOnly = msgReads == bareMsg && pl.reads["@message"] > 0 && !defined["@message"]
	for n := range baseSet {
		pl.base = append(pl.base, n)
	}
	pl.planScan(cmds)
	return pl
}

// sortBound is how many sorted rows the rest of the query can use: the
// next limit, or the final row cap, when only commands that keep every
// row (fields, display, unmask) come in between; 0 when unbounded.
func sortBound(rest []Command, rowCap int) int {
	for _, c := range rest {
		switch x := c.(type) {
		case *FieldsCmd, *DisplayCmd, *UnmaskCmd:
		case *LimitCmd:
			return x.N
		default:
			return 0
		}
	}
	return rowCap
}

func (pl *plan) isJSONPath(n string, defined map[string]bool) bool {
	for i := len(n) - 1; i > 0; i-- {
		if n[i] == '.' && defined[n[:i]] {
			return true
		}
	}
	return false
}

func parseField(p *ParseCmd) string {
	if p.Field == "" {
		return "@message"
	}
	return p.Field
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// tokenPattern reports whether a glob is n stars joined by single spaces,
// which over space-delimited messages is exactly the token columns.
func tokenPattern(p *ParseCmd) bool {
	if p.Regex || parseField(p) != "@message" || len(p.Aliases) == 0 {
		return false
	}
	return p.Pattern == strings.Repeat("* ", len(p.Aliases)-1)+"*"
}

// messageFallback is what the engine asks for when it reads token columns
// and needs messages only for blocks that have none (mixed shapes, JSON):
// the store does not rebuild the messages of token blocks.
const messageFallback = logstore.ColMessageIfNoTokens

// planScan derives the store projection and pushed-down predicates.
func (pl *plan) planScan(cmds []Command) {
	need := logstore.Columns(0)
	// fallback: token columns, and messages only for blocks without them;
	// explicit: messages of every block.
	fallback, explicit := false, false
	// The first segment's parse of @message, unless a command redefined
	// @message before it.
	redefined := false
	for _, c := range pl.segs[0].ops {
		for _, n := range projectionsOf(c) {
			redefined = redefined || n == "@message"
		}
		if p, ok := c.(*ParseCmd); ok && parseField(p) == "@message" {
			if tokenPattern(p) && pl.tokenParse == nil && !redefined {
				pl.tokenParse = p
				fallback = true
				continue
			}
			explicit = true
		}
	}
	for _, n := range pl.base {
		switch n {
		case "@message":
			// Read by the token parse alone, token blocks need no message.
			if pl.tokenParse == nil && pl.msgOutputOnly {
				// Only output: rebuilt from tokens for the rows kept.
				fallback, pl.lazyMsg = true, true
			} else if pl.tokenParse == nil || pl.reads["@message"] > 1 {
				explicit = true
			}
		case "@logStream":
			need |= logstore.ColStream
		case "@ingestionTime":
			need |= logstore.ColIngestion
		case "@timestamp", "@log", "@ptr":
		default:
			fallback = true
		}
	}
	if fallback {
		// ColIP: address columns stay typed when a block has IPv6 rows.
		need |= messageFallback | logstore.ColTokens | logstore.ColIP
	}
	if explicit {
		need |= logstore.ColMessage
	}
	pl.need = need | logstore.ColMessageBytes | pl.timeColumns()
	pl.msgFallback = fallback && !explicit
	if fallback && !explicit {
		pl.tokenCols = pl.readTokenCols()
		// isVPCBlock reads the interface column's distinct values only.
		if c, ok := pl.tokenCols[vpcTokens]; ok && !slices.Contains(c, 2) {
			pl.dictCols = map[int][]int{vpcTokens: {2}}
		}
	}

	// Conjuncts `field op constant` of first-segment filters on token
	// columns let the store skip blocks by min/max and bloom filters.
	definedSoFar := map[string]int{} // name -> token column via the token parse, or -1
	for _, c := range pl.segs[0].ops {
		switch x := c.(type) {
		case *ParseCmd:
			for i, a := range x.Aliases {
				if x == pl.tokenParse && i < len(x.Aliases)-1 {
					definedSoFar[a] = i
				} else {
					definedSoFar[a] = -1
				}
			}
		case *FieldsCmd, *DisplayCmd, *UnnestCmd:
			for _, p := range projectionsOf(c) {
				definedSoFar[p] = -1
			}
		case *FilterCmd:
			for _, e := range conjuncts(x.Expr) {
				b, ok := e.(*BinaryExpr)
				if !ok {
					continue
				}
				op, ok := predOps[b.Op]
				f, lit := b.L, b.R
				if _, isField := f.(*FieldRef); !isField {
					f, lit = b.R, b.L
					op = flipOp(op)
				}
				fr, isField := f.(*FieldRef)
				if !ok || !isField {
					continue
				}
				text, ok := literalText(lit)
				if !ok {
					continue
				}
				if _, isInt := parseCanonicalInt(text); op != logstore.OpEq && !isInt {
					// Ranges only on integers: text ordering of string
					// columns is not the engine's numeric-aware order.
					continue
				}
				if col, ok := definedSoFar[fr.Name]; ok {
					if col >= 0 {
						pl.preds = append(pl.preds, logstore.TokenPred{Count: len(pl.tokenParse.Aliases), Col: col, Op: op, Str: text})
					}
					continue
				}
				if col, ok := vpcFields[fr.Name]; ok {
					pl.preds = append(pl.preds, logstore.TokenPred{Count: vpcTokens, Col: col, Op: op, Str: text})
				}
			}
		}
	}
}

// timeColumns is ColTimestamps|ColSeq unless the first segment ends in a
// stats command that no row's time or position reaches: no @timestamp
// (bin() reads it) or @ptr among the base fields, no earliest/latest.
// Every other barrier orders or keeps rows by (timestamp, seq).
func (pl *plan) timeColumns() logstore.Columns {
	all := logstore.ColTimestamps | logstore.ColSeq
	st, ok := pl.segs[0].barrier.(*StatsCmd)
	if !ok {
		return all
	}
	timeAgg := false
	for _, p := range st.Aggs {
		walkExpr(p.Expr, func(e Expr) {
			if c, ok := e.(*CallExpr); ok && (strings.EqualFold(c.Name, "earliest") || strings.EqualFold(c.Name, "latest")) {
				timeAgg = true
			}
		})
	}
	if timeAgg || slices.Contains(pl.base, "@ptr") {
		return all
	}
	if slices.Contains(pl.base, "@timestamp") {
		return logstore.ColTimestamps
	}
	return 0
}

// readTokenCols lists the token columns the first segment reads per block
// shape: of 14-token blocks the discovered flow-log fields (isVPCBlock
// reads the interface column's dictionary, plan.dictCols); of blocks the token parse maps, its aliases
// that something reads. Blocks whose columns are all needed (rebuilding a
// message for a glob parse or JSON discovery) are decoded whole by
// Block.DecodeTokens where that happens.
func (pl *plan) readTokenCols() map[int][]int {
	cols := map[int][]int{}
	add := func(shape, c int) {
		if !slices.Contains(cols[shape], c) {
			cols[shape] = append(cols[shape], c)
		}
	}
	for _, n := range pl.base {
		switch n {
		case "@timestamp", "@ingestionTime", "@message", "@logStream", "@log", "@ptr":
			continue
		}
		if cols[vpcTokens] == nil {
			cols[vpcTokens] = []int{}
		}
		if c, ok := vpcFields[n]; ok {
			add(vpcTokens, c)
		}
	}
	if tp := pl.tokenParse; tp != nil {
		k := len(tp.Aliases)
		if cols[k] == nil {
			cols[k] = []int{}
		}
		for i, a := range tp.Aliases {
			if pl.read[a] {
				add(k, i)
			}
		}
	}
	for _, c := range cols {
		slices.Sort(c)
	}
	return cols
}

func projectionsOf(c Command) []string {
	var out []string
	switch x := c.(type) {
	case *FieldsCmd:
		for _, p := range x.Items {
			out = append(out, p.Name())
		}
	case *DisplayCmd:
		for _, p := range x.Items {
			out = append(out, p.Name())
		}
	case *UnnestCmd:
		out = append(out, x.Into)
	}
	return out
}

// predOps are the comparisons pushed to the store. != is not: a "-"
// (null) token is != every number in the engine, and the store may treat
// nulls as matching nothing.
var predOps = map[string]logstore.PredOp{"=": logstore.OpEq, "<": logstore.OpLt,
	"<=": logstore.OpLe, ">": logstore.OpGt, ">=": logstore.OpGe}

func flipOp(op logstore.PredOp) logstore.PredOp {
	switch op {
	case logstore.OpLt:
		return logstore.OpGt
	case logstore.OpLe:
		return logstore.OpGe
	case logstore.OpGt:
		return logstore.OpLt
	case logstore.OpGe:
		return logstore.OpLe
	}
	return op
}

// literalText is a constant's text when the store can compare it exactly.
func literalText(e Expr) (string, bool) {
	switch x := e.(type) {
	case *StringLit:
		return x.Val, true
	case *NumberLit:
		if _, ok := parseCanonicalInt(x.Text); ok {
			return x.Text, true
		}
	case *ParenExpr:
		return literalText(x.X)
	}
	return "", false
}

func conjuncts(e Expr) []Expr {
	switch x := e.(type) {
	case *ParenExpr:
		return conjuncts(x.X)
	case *BinaryExpr:
		if x.Op == "and" {
			return append(conjuncts(x.L), conjuncts(x.R)...)
		}
	}
	return []Expr{e}
}
