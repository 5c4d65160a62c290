package insights

import (
	"encoding/json"
	"math"
	"math/bits"
	"regexp"
	"strings"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

const (
	sysNone = iota
	sysTimestamp
	sysIngestion
	sysMessage
	sysStream
	sysLog
	sysPtr
)

// baseLoader fills one slot from a block: a system field or a discovered
// field (default-format VPC flow log position, or a flattened JSON key).
type baseLoader struct {
	slot   int
	name   string
	sys    int
	vpcCol int // -1: not a flow-log field
}

func newBaseLoaders(pl *plan) []baseLoader {
	var out []baseLoader
	for _, n := range pl.base {
		l := baseLoader{slot: pl.slotOf[n], name: n, vpcCol: -1}
		switch n {
		case "@timestamp":
			l.sys = sysTimestamp
		case "@ingestionTime":
			l.sys = sysIngestion
		case "@message":
			l.sys = sysMessage
		case "@logStream":
			l.sys = sysStream
		case "@log":
			l.sys = sysLog
		case "@ptr":
			l.sys = sysPtr
		default:
			if c, ok := vpcFields[n]; ok {
				l.vpcCol = c
			}
		}
		out = append(out, l)
	}
	return out
}

var dashVal = strVal("-")

// isVPCBlock: 14 token columns whose third is interface ids. A store may
// send that column as its distinct values only (ScanQuery.DictCols).
func isVPCBlock(blk *logstore.Block) bool {
	if len(blk.Tokens) != vpcTokens {
		return false
	}
	c := &blk.Tokens[2]
	if c.Kind != logstore.KindString && (c.Kind != logstore.KindSkipped || c.Dict == nil) {
		return false
	}
	for _, d := range c.Dict {
		if d != "-" && !strings.HasPrefix(d, "eni-") {
			return false
		}
	}
	return true
}

func isVPCTokens(t []string) bool {
	return len(t) == vpcTokens && (t[2] == "-" || strings.HasPrefix(t[2], "eni-")) && t[0] != "" && isDigit(t[0][0])
}

func messageAt(blk *logstore.Block, i int) string {
	if len(blk.Messages) > i {
		return blk.Messages[i]
	}
	if len(blk.Tokens) > 0 {
		parts := make([]string, len(blk.Tokens))
		for c := range blk.Tokens {
			parts[c] = blk.Tokens[c].String(i)
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// blockBytes is Σ len(message) of the selected rows, from the messages or,
// when the store sent only tokens, from the token texts.
func blockBytes(blk *logstore.Block, sel []int32) int64 {
	if len(sel) == blk.Len && blk.MessageBytes > 0 {
		return blk.MessageBytes
	}
	var n int64
	if len(blk.Messages) == blk.Len {
		for _, i := range sel {
			n += int64(len(blk.Messages[i]))
		}
		return n
	}
	if len(blk.Tokens) == 0 {
		return 0
	}
	for c := range blk.Tokens {
		col := &blk.Tokens[c]
		switch col.Kind {
		case logstore.KindString:
			for _, i := range sel {
				n += int64(len(col.Dict[col.Codes[i]]))
			}
		case logstore.KindInt:
			for _, i := range sel {
				if col.Null != nil && col.Null[i] {
					n++
				} else {
					n += int64(decLen(col.Ints[i]))
				}
			}
		default:
			for _, i := range sel {
				if col.Null != nil && col.Null[i] {
					n++
				} else if col.Is6 != nil && col.Is6[i] {
					n += int64(len(col.String(int(i))))
				} else {
					ip := col.IPs[i]
					n += int64(octetLen[ip>>24]) + int64(octetLen[ip>>16&0xff]) + int64(octetLen[ip>>8&0xff]) + int64(octetLen[ip&0xff]) + 3
				}
			}
		}
	}
	return n + int64(len(sel)*(len(blk.Tokens)-1))
}

// octetLen is the length of each byte's decimal text.
var octetLen = func() (t [256]uint8) {
	for i := range t {
		t[i] = uint8(decLen(int64(i)))
	}
	return t
}()

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19}

// decLen is the length of strconv.FormatInt(v, 10), without formatting.
func decLen(v int64) int {
	u, n := uint64(v), 0
	if v < 0 {
		u, n = -u, 1
	}
	if u == 0 {
		return 1
	}
	t := bits.Len64(u) * 1233 >> 12 // ⌊log10⌋ or one less
	if u >= pow10[t] {
		t++
	}
	return n + t
}

func (w *worker) processBlock(blk *logstore.Block, tgt int32) {
	env := w.env
	ns := len(env.pl.names)
	b := &w.b
	b.reset(blk.Len, ns)
	b.blk = blk
	// A store leaves out timestamps and seq when the plan does not read
	// them (plan.need); its rows are then all in range.
	if len(blk.Timestamps) == blk.Len {
		copy(b.ts, blk.Timestamps)
		// Blocks wholly in range (nearly all) select every row at once.
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, t := range blk.Timestamps {
			lo, hi = min(lo, t), max(hi, t)
		}
		if lo >= env.start && hi <= env.end {
			b.sel = append(b.sel, iota32(blk.Len)...)
		} else {
			for i, t := range blk.Timestamps {
				if t >= env.start && t <= env.end {
					b.sel = append(b.sel, int32(i))
				}
			}
		}
	} else {
		if env.pl.need&logstore.ColTimestamps != 0 {
			clear(b.ts) // asked for, not given: read as 0, not stale
		}
		b.sel = append(b.sel, iota32(blk.Len)...)
	}
	if len(blk.Seq) == blk.Len {
		copy(b.seq, blk.Seq)
	} else if env.pl.need&logstore.ColSeq != 0 {
		clear(b.seq)
	}
	// Nothing else writes tgt: refill it only for another target or more rows.
	if b.tgtN < len(b.tgt) || b.tgtVal != tgt {
		all := b.tgt[:cap(b.tgt)]
		for i := range all {
			all[i] = tgt
		}
		b.tgtN, b.tgtVal = len(all), tgt
	}
	w.scanned += int64(len(b.sel))
	if w.needsAllTokens(blk, len(b.sel)) {
		if err := blk.DecodeTokens(); err != nil {
			w.err = err
			b.blk = nil
			return
		}
	}
	w.bytes += blockBytes(blk, b.sel)
	if len(b.sel) == 0 {
		return
	}
	w.loadBase(blk, b, tgt)
	w.runBatch(b)
	b.blk = nil
}

// needsAllTokens: the store left out token columns of blk
// (ScanQuery.TokenCols) and this block takes a path that reads all of
// them: counting the bytes of some rows, rebuilding messages, discovering
// fields of a block that is not a flow-log block.
func (w *worker) needsAllTokens(blk *logstore.Block, sel int) bool {
	skipped := false
	for c := range blk.Tokens {
		if blk.Tokens[c].Kind == logstore.KindSkipped {
			skipped = true
			break
		}
	}
	if !skipped {
		return false
	}
	if sel != blk.Len || blk.MessageBytes <= 0 {
		return true
	}
	discovered := false
	for _, l := range w.base {
		switch l.sys {
		case sysMessage:
			tp := w.env.pl.tokenParse
			tokenParsed := tp != nil && w.env.pl.msgFallback && len(blk.Tokens) == len(tp.Aliases)
			if len(blk.Messages) != blk.Len && !tokenParsed && !w.env.pl.lazyMsg {
				return true
			}
		case sysNone:
			discovered = true
		}
	}
	return discovered && !isVPCBlock(blk)
}

func (w *worker) lazyStore() []lazyCol {
	if len(w.lazy) != w.b.ns {
		w.lazy = make([]lazyCol, w.b.ns)
	}
	return w.lazy
}

func (w *worker) loadBase(blk *logstore.Block, b *batch, tgt int32) {
	ns := b.ns
	var discovered []baseLoader
	for _, l := range w.base {
		s := l.slot
		switch l.sys {
		case sysTimestamp:
			b.bind(s, lazyCol{ts: b.ts}, w.lazyStore())
		case sysIngestion:
			for i := 0; i < b.n; i++ {
				if i < len(blk.IngestionTime) {
					b.vals[i*ns+s] = Value{K: KTime, I: blk.IngestionTime[i]}
				} else {
					b.vals[i*ns+s] = null
				}
			}
		case sysMessage:
			if tp := w.env.pl.tokenParse; tp != nil && w.env.pl.msgFallback && len(blk.Messages) != blk.Len && len(blk.Tokens) == len(tp.Aliases) {
				// Only the token parse reads @message, and it reads
				// this block's token columns.
				continue
			}
			if len(blk.Messages) == blk.Len {
				for i := 0; i < b.n; i++ {
					b.vals[i*ns+s] = Value{K: KStr, S: blk.Messages[i]}
				}
			} else if w.env.pl.lazyMsg && len(blk.Tokens) > 0 {
				b.bind(s, lazyCol{msg: blk, err: &w.err}, w.lazyStore())
			} else {
				for i := 0; i < b.n; i++ {
					b.vals[i*ns+s] = strVal(messageAt(blk, i))
				}
			}
		case sysStream:
			for i := 0; i < b.n; i++ {
				if i < len(blk.StreamIdx) {
					b.vals[i*ns+s] = strVal(blk.StreamNames[blk.StreamIdx[i]])
				} else {
					b.vals[i*ns+s] = null
				}
			}
		case sysLog:
			v := strVal(w.env.targets[tgt].Log)
			for i := 0; i < b.n; i++ {
				b.vals[i*ns+s] = v
			}
		case sysPtr:
			group := w.env.targets[tgt].Group
			for _, i := range b.sel {
				b.vals[int(i)*ns+s] = strVal(EncodePtr(group, blk.Timestamps[i], blk.Seq[i]))
			}
		default:
			discovered = append(discovered, l)
		}
	}
	if len(discovered) == 0 {
		return
	}
	if isVPCBlock(blk) {
		for _, l := range discovered {
			if l.vpcCol >= 0 {
				b.bind(l.slot, lazyCol{c: &blk.Tokens[l.vpcCol]}, w.lazyStore())
			} else {
				for i := 0; i < b.n; i++ {
					b.vals[i*ns+l.slot] = null
				}
			}
		}
		return
	}
	// Mixed or non-token block: discover row by row.
	for _, i := range b.sel {
		row := b.vals[int(i)*ns : int(i+1)*ns]
		msg := messageAt(blk, int(i))
		var toks []string
		var jsonOK bool
		if len(msg) > 0 && msg[0] == '{' {
			clear(w.json)
			if w.json == nil {
				w.json = map[string]Value{}
			}
			var x any
			d := json.NewDecoder(strings.NewReader(msg))
			d.UseNumber()
			if d.Decode(&x) == nil {
				flattenJSON("", x, w.json)
				jsonOK = true
			}
		} else if t, ok := logstore.SplitTokens(msg); ok && isVPCTokens(t) {
			toks = t
		}
		for _, l := range discovered {
			v := null
			switch {
			case jsonOK:
				v = w.json[l.name]
			case toks != nil && l.vpcCol >= 0:
				v = classify(toks[l.vpcCol])
			}
			row[l.slot] = v
		}
	}
}

// parseOp extracts fields from text with a glob or a regex.
type parseOp struct {
	src     int
	token   bool // the pattern is the block's token columns
	out     []int
	keep    []bool // slot also holds a base field: a non-match keeps it
	lits    []string
	re      *regexp.Regexp
	groups  []int
	capture []string
	lazy    []lazyCol
}

func compileParseOp(c *compiler, x *ParseCmd) (streamOp, error) {
	pl := c.pl
	op := &parseOp{src: pl.slotOf[parseField(x)], token: pl.tokenParse == x}
	isBase := map[string]bool{}
	for _, n := range pl.base {
		isBase[n] = true
	}
	for _, a := range x.Aliases {
		s := -1
		if pl.read[a] {
			s = pl.slotOf[a]
		}
		op.out = append(op.out, s)
		op.keep = append(op.keep, isBase[a])
	}
	if x.Regex {
		re, err := compileRegex(x.Pattern)
		if err != nil {
			return nil, errAt(pl.q.Text, x.P, "invalid regular expression: %v", err)
		}
		op.re = re
		for _, a := range x.Aliases {
			op.groups = append(op.groups, re.SubexpIndex(a))
		}
	} else {
		op.lits = strings.Split(x.Pattern, "*")
	}
	op.capture = make([]string, len(x.Aliases))
	return op, nil
}

func (o *parseOp) apply(b *batch, rc *rowCtx) *batch {
	if o.token && b.blk != nil && len(b.blk.Tokens) == len(o.out) {
		for k, s := range o.out {
			if s >= 0 {
				b.bind(s, lazyCol{c: &b.blk.Tokens[k]}, o.store(b.ns))
			}
		}
		return b
	}
	// Slots this parse writes stop being lazy; rows it misses keep their
	// old value, so materialise first.
	for _, s := range o.out {
		if s >= 0 && b.lazy != nil && b.lazy[s] != nil {
			l := b.lazy[s]
			for _, i := range b.sel {
				b.vals[int(i)*b.ns+s] = l.value(i)
			}
		}
	}
	var src Value
	var buf []byte
	if b.lazy != nil && o.src >= 0 && b.lazy[o.src] != nil {
		b.materialize()
	}
	for _, s := range o.out {
		if s >= 0 {
			b.unbind(s)
		}
	}
	for _, i := range b.sel {
		b.row(i, rc)
		src = rc.get(o.src)
		row := b.vals[int(i)*b.ns : int(i+1)*b.ns]
		v := src
		if v.K == KNull {
			o.miss(row)
			continue
		}
		text := v.S
		if v.K != KStr {
			buf = v.appendText(buf[:0])
			text = string(buf)
		}
		if o.re != nil {
			m := o.re.FindStringSubmatchIndex(text)
			if m == nil {
				o.miss(row)
				continue
			}
			for k, s := range o.out {
				if s < 0 {
					continue
				}
				if g := o.groups[k]; g >= 0 && m[2*g] >= 0 {
					row[s] = classify(text[m[2*g]:m[2*g+1]])
				} else if !o.keep[k] {
					row[s] = null
				}
			}
			continue
		}
		if !globMatch(text, o.lits, o.capture) {
			o.miss(row)
			continue
		}
		for k, s := range o.out {
			if s >= 0 {
				row[s] = classify(o.capture[k])
			}
		}
	}
	return b
}

func (o *parseOp) store(ns int) []lazyCol {
	if len(o.lazy) != ns {
		o.lazy = make([]lazyCol, ns)
	}
	return o.lazy
}

func (o *parseOp) miss(row []Value) {
	for k, s := range o.out {
		if s >= 0 && !o.keep[k] {
			row[s] = null
		}
	}
}

// globMatch matches lits[0]*lits[1]*…*lits[n]: the first literal anywhere,
// each star up to the next occurrence of the following literal, and a
// final star to the end of the text.
func globMatch(s string, lits []string, out []string) bool {
	pos := 0
	if lits[0] != "" {
		j := strings.Index(s, lits[0])
		if j < 0 {
			return false
		}
		pos = j + len(lits[0])
	}
	n := len(lits) - 1
	for k := 1; k <= n; k++ {
		lit := lits[k]
		if k == n && lit == "" {
			out[k-1] = s[pos:]
			return true
		}
		if lit == "" {
			// Adjacent stars: the earlier one captures nothing.
			out[k-1] = ""
			continue
		}
		j := strings.Index(s[pos:], lit)
		if j < 0 {
			return false
		}
		out[k-1] = s[pos : pos+j]
		pos += j + len(lit)
	}
	return true
}

// iotaRows is 0, 1, 2, …: the selection of every row of a block.
var iotaRows = func() []int32 {
	s := make([]int32, 1<<16)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}()

func iota32(n int) []int32 {
	if n <= len(iotaRows) {
		return iotaRows[:n]
	}
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}
