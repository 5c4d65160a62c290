package insights

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// patternColumns are the fields `pattern` outputs. The first four are
// AWS's documented output (CWL_QuerySyntax-Pattern); @logSamples is what
// real exported results carry beside them (a JSON list of
// {"logEvent": text}), here the newest events of the pattern.
var patternColumns = []string{"@pattern", "@ratio", "@sampleCount", "@severityLabel", "@logSamples"}

// patternExtraColumns are pattern fields shown only when a later command
// names them: @tokens, the pattern's tokens in the shape of the API's
// PatternToken (dynamicTokenPosition, isDynamic, tokenString,
// inferredTokenName, enumerations: the values of a dynamic token in the
// query's range and their counts, given when there are at most
// maxTokenValues of them).
var patternExtraColumns = []string{"@tokens"}

// maxTokenValues bounds the values counted per dynamic token.
const maxTokenValues = 10

const (
	// patternMaxChars: only the start of a value is clustered (1,500
	// characters, as a digest of AWS's anomaly detection page says of its
	// pattern analysis; unverified in AWS's own pages).
	patternMaxChars = 1500
	// maxPatternStructures bounds each worker's table of token structures;
	// an event of a new structure beyond it is counted (in @ratio's
	// denominator) but joins no pattern, so memory stays bounded.
	maxPatternStructures = 10000
	// patternSamples is how many events @logSamples shows, each cut
	// after maxSampleBytes (events may be up to 1 MB).
	patternSamples = 3
	maxSampleBytes = 8192
)

// ptokKind types a token: static text, or a dynamic token of an inferred
// type (AWS shows those as <Time-1>, <IPAddress-3>, <ID-2>, and as
// <Token-N> when it cannot tell).
type ptokKind uint8

const (
	tkStatic ptokKind = iota
	tkTime
	tkIP
	tkID
	tkToken
)

var ptokKindNames = [...]string{tkTime: "Time", tkIP: "IPAddress", tkID: "ID", tkToken: "Token"}

// patternTokens splits s at white space into tokens and types them; a
// date followed by a time of day is one Time token, as in AWS's example
// (`2023-01-01 19:00:01 [INFO] …` → `<Time-1> [INFO] …`).
func patternTokens(s string, toks []string, kinds []ptokKind) ([]string, []ptokKind) {
	if len(s) > patternMaxChars {
		// Cut before a character, but never more than one character back
		// (invalid text may hold long runs of continuation bytes).
		cut := patternMaxChars
		for k := 1; k < utf8.UTFMax && !utf8.RuneStart(s[cut]); k++ {
			cut--
		}
		s = s[:cut]
	}
	toks, kinds = toks[:0], kinds[:0]
	prevStart := 0
	for i := 0; i < len(s); {
		for i < len(s) && isSpaceByte(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpaceByte(s[j]) {
			j++
		}
		if j == i {
			break
		}
		t := s[i:j]
		k := tokenKind(t)
		if n := len(toks); n > 0 && kinds[n-1] == tkTime && k == tkTime && isBareDate(toks[n-1]) && !isDate(t) {
			// A date and a time of day: one token over both.
			toks[n-1] = s[prevStart:j]
		} else {
			toks = append(toks, t)
			kinds = append(kinds, k)
			prevStart = i
		}
		i = j
	}
	return toks, kinds
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// tokenKind infers what a token is. Tokens without digits are static
// text; tokens with digits are dynamic: a date or time of day, an IP
// address (with an optional port), an identifier (an id-like run of
// letters, digits and dashes at least 8 long that is not a plain number),
// otherwise a token of unknown type (numbers, sizes, versions, …). Whether
// a dynamic token really varies is decided later from the data.
func tokenKind(t string) ptokKind {
	if !hasDigit(t) {
		return tkStatic
	}
	w := trimWrap(t)
	switch {
	case isDate(w) || isTimeOfDay(w):
		return tkTime
	case isIPToken(w):
		return tkIP
	case isIDToken(w):
		return tkID
	}
	return tkToken
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]-'0' < 10 {
			return true
		}
	}
	return false
}

// trimWrap drops the brackets, quotes and separators around a token.
func trimWrap(s string) string {
	for len(s) > 0 && isWrap(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isWrap(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isWrap(c byte) bool {
	switch c {
	case '[', ']', '(', ')', '<', '>', '{', '}', ',', ';', '"', '\'':
		return true
	}
	return false
}

// isDate: YYYY-MM-DD or YYYY/MM/DD, optionally followed by T and a time
// (ISO 8601).
func isDate(s string) bool {
	s = trimWrap(s)
	if len(s) < 10 || !allDigits(s[:4]) || (s[4] != '-' && s[4] != '/') || !allDigits(s[5:7]) || s[7] != s[4] || !allDigits(s[8:10]) {
		return false
	}
	return len(s) == 10 || s[10] == 'T' && isTimeOfDay(s[11:])
}

// isBareDate: a date without a time of day.
func isBareDate(s string) bool {
	return isDate(s) && len(trimWrap(s)) == 10
}

// isTimeOfDay: HH:MM:SS with optional fraction and zone (Z, ±hh:mm).
func isTimeOfDay(s string) bool {
	if len(s) < 8 || !allDigits(s[:2]) || s[2] != ':' || !allDigits(s[3:5]) || s[5] != ':' || !allDigits(s[6:8]) {
		return false
	}
	rest := s[8:]
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		k := 1
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		rest = rest[k:]
	}
	switch {
	case rest == "" || rest == "Z":
		return true
	case rest[0] == '+' || rest[0] == '-':
		z := strings.ReplaceAll(rest[1:], ":", "")
		return len(z) == 4 && allDigits(z)
	}
	return false
}

func isIPToken(s string) bool {
	if strings.IndexByte(s, '.') < 0 && strings.IndexByte(s, ':') < 0 {
		return false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.IsValid() {
		return true
	}
	ap, err := netip.ParseAddrPort(s) // 10.0.0.1:443, [2001:db8::1]:443
	return err == nil && ap.IsValid()
}

func isIDToken(s string) bool {
	if len(s) < 8 {
		return false
	}
	letters := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '-', c == '_':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letters = true
		default:
			return false
		}
	}
	return letters || strings.ContainsAny(s, "-_")
}

// Severity levels, least to most severe; a pattern's label is the most
// severe level of its events.
var severityLabels = [...]string{"NONE", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

var severityWords = map[string]int{
	"TRACE": 1, "DEBUG": 2, "INFO": 3, "NOTICE": 3, "WARN": 4, "WARNING": 4,
	"ERROR": 5, "ERR": 5, "SEVERE": 5, "FATAL": 6, "CRITICAL": 6, "CRIT": 6, "EMERG": 6, "PANIC": 6,
}

// severityOf finds the first level keyword among the words of s (runs of
// letters, any case: [INFO], level=error, "level":"warn").
func severityOf(s string) int {
	if len(s) > patternMaxChars {
		s = s[:patternMaxChars]
	}
	var buf [8]byte
	for i := 0; i < len(s); {
		if !isASCIILetter(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isASCIILetter(s[j]) {
			j++
		}
		if n := j - i; n >= 3 && n <= len(buf) {
			for k := range n {
				buf[k] = s[i+k] &^ 0x20 // upper case
			}
			if l, ok := severityWords[string(buf[:n])]; ok {
				return l
			}
		}
		i = j
	}
	return 0
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// psample is one event shown in @logSamples.
type psample struct {
	ts   int64
	seq  uint64
	text string
}

// newer orders samples newest first, then by text, so the choice does not
// depend on how blocks were split among workers.
func (a psample) newer(b psample) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	return a.text < b.text
}

// cutSample bounds the text a sample keeps.
func cutSample(s string) string {
	if len(s) <= maxSampleBytes {
		return s
	}
	cut := maxSampleBytes
	for k := 1; k < utf8.UTFMax && !utf8.RuneStart(s[cut]); k++ {
		cut--
	}
	return s[:cut]
}

func addSample(l []psample, s psample) []psample {
	i := len(l)
	for i > 0 && s.newer(l[i-1]) {
		i--
	}
	if i >= patternSamples {
		return l
	}
	if len(l) < patternSamples {
		l = append(l, psample{})
	}
	copy(l[i+1:], l[i:])
	l[i] = s
	return l
}

// pcluster is one token structure: events whose tokens are equal where
// static and of the same type where dynamic. toks holds the first value
// seen at dynamic positions; varied records those that took other values.
type pcluster struct {
	key     string
	toks    []string
	kinds   []ptokKind
	varied  []bool
	n       [2]int // events in the query's range and in diff's comparison range
	sev     int
	samples [2][]psample
	// enums counts the values at each position in the query's range (for
	// @tokens only); nil at a position with more than maxTokenValues.
	enums []map[string]int
}

// countValue counts value v at position k; past maxTokenValues distinct
// values the position has no enumeration (enumsOver).
func (c *pcluster) countValue(k int, v string, n int) {
	m := c.enums[k]
	if m == nil {
		return
	}
	if _, ok := m[v]; !ok && len(m) == maxTokenValues {
		c.enums[k] = nil
		return
	}
	m[v] += n
}

// newEnums starts value counting at the dynamic positions (cloneEnums
// gives static ones their text).
func newEnums(kinds []ptokKind) []map[string]int {
	e := make([]map[string]int, len(kinds))
	for i, k := range kinds {
		if k != tkStatic {
			e[i] = map[string]int{}
		}
	}
	return e
}

func (c *pcluster) total() int { return c.n[0] + c.n[1] }

// absorb adds o's events to c; positions where the two disagree vary.
func (c *pcluster) absorb(o *pcluster) {
	for i := range c.toks {
		if c.toks[i] != o.toks[i] || o.varied[i] {
			c.varied[i] = true
		}
	}
	if c.enums != nil {
		for i, m := range c.enums {
			if m == nil {
				continue
			}
			if o.enums[i] == nil {
				c.enums[i] = nil
				continue
			}
			for v, n := range o.enums[i] {
				c.countValue(i, v, n)
			}
		}
	}
	c.n[0] += o.n[0]
	c.n[1] += o.n[1]
	c.sev = max(c.sev, o.sev)
	for r := range c.samples {
		for _, s := range o.samples[r] {
			c.samples[r] = addSample(c.samples[r], s)
		}
	}
}

// patternBarrier clusters rows by the token structure of a field, the way
// AWS describes pattern analysis: tokens that hold data (times, addresses,
// identifiers, numbers) are dynamic, the rest is the pattern's text. Each
// worker counts events per structure (bounded by maxPatternStructures);
// at the end structures of the same length that share their first token
// and more than half their tokens merge, the differing positions becoming
// dynamic tokens (<Token-N> where the types differ), and dynamic positions
// that never varied show their value.
// The result depends only on the set of events, not on block order or
// parallelism. With diff, events of the comparison range are counted
// apart (rowCtx.env.prev) and clustered together with the others, so a
// pattern means the same in both ranges.
type patternBarrier struct {
	pl    *plan
	cmd   *PatternCmd
	first bool
}

type patternWorker struct {
	src     evalFn
	values  bool // count token values (@tokens is read)
	m       map[string]*pcluster
	total   [2]int
	toks    []string
	kinds   []ptokKind
	key     []byte
	dropped int
}

func (p *patternBarrier) newWorker(c *compiler) (barrierWorker, error) {
	_, values := p.pl.slotOf["@tokens"]
	return &patternWorker{src: c.field(p.cmd.Field), m: map[string]*pcluster{}, values: values}, nil
}

// structureKey appends the key of a token structure: static text as is,
// dynamic tokens as their type.
func structureKey(b []byte, toks []string, kinds []ptokKind) []byte {
	for i, t := range toks {
		if i > 0 {
			b = append(b, 0)
		}
		if kinds[i] == tkStatic {
			b = append(b, t...)
		} else {
			b = append(b, 1, byte(kinds[i]))
		}
	}
	return b
}

func (w *patternWorker) consume(b *batch, rc *rowCtx) {
	for _, i := range b.sel {
		b.row(i, rc)
		v := w.src(rc)
		if v.K == KNull {
			continue
		}
		r := 0
		if rc.env != nil && rc.env.prev {
			r = 1
		}
		w.total[r]++
		text := v.String()
		w.toks, w.kinds = patternTokens(text, w.toks, w.kinds)
		w.key = structureKey(w.key[:0], w.toks, w.kinds)
		c := w.m[string(w.key)]
		if c == nil {
			if len(w.m) >= maxPatternStructures {
				w.dropped++
				continue
			}
			c = &pcluster{key: string(w.key), kinds: slices.Clone(w.kinds), varied: make([]bool, len(w.toks)),
				toks: make([]string, len(w.toks)), sev: -1}
			for k, t := range w.toks {
				c.toks[k] = strings.Clone(t)
			}
			if w.values {
				c.enums = newEnums(c.kinds)
			}
			w.m[c.key] = c
		} else {
			for k, t := range w.toks {
				if !c.varied[k] && c.toks[k] != t {
					c.varied[k] = true
				}
			}
		}
		c.n[r]++
		if c.enums != nil && r == 0 {
			for k, t := range w.toks {
				if c.kinds[k] != tkStatic && c.enums[k] != nil {
					if _, ok := c.enums[k][t]; ok {
						c.enums[k][t]++
					} else {
						c.countValue(k, strings.Clone(t), 1)
					}
				}
			}
		}
		if c.sev < len(severityLabels)-1 {
			if sev := severityOf(text); sev > c.sev {
				c.sev = sev
			}
		}
		s := psample{ts: rc.ts, seq: rc.seq, text: cutSample(text)}
		if l := c.samples[r]; len(l) < patternSamples || s.newer(l[len(l)-1]) {
			s.text = strings.Clone(s.text)
			c.samples[r] = addSample(l, s)
		}
	}
}

// ptemplate is a pattern: structures merged, wild marking the static
// positions that differ between them.
type ptemplate struct {
	pcluster
	wild []bool
	text string
}

// mergeStructures merges the workers' tables and the similar structures;
// the order of the input does not matter.
func mergeStructures(ws []barrierWorker) ([]*ptemplate, [2]int) {
	all := map[string]*pcluster{}
	var total [2]int
	for _, bw := range ws {
		w := bw.(*patternWorker)
		total[0] += w.total[0]
		total[1] += w.total[1]
		for key, c := range w.m {
			if cur := all[key]; cur == nil {
				all[key] = c
			} else {
				cur.absorb(c)
			}
		}
	}
	cs := make([]*pcluster, 0, len(all))
	for _, c := range all {
		cs = append(cs, c)
	}
	// Largest structures first: they shape the templates the others join.
	slices.SortFunc(cs, func(a, b *pcluster) int {
		if a.total() != b.total() {
			return b.total() - a.total()
		}
		return strings.Compare(a.key, b.key)
	})
	buckets := map[string][]*ptemplate{}
	var out []*ptemplate
	var bk []byte
	for _, c := range cs {
		bk = bucketKey(bk[:0], c)
		var into *ptemplate
		for _, t := range buckets[string(bk)] {
			if t.similar(c) {
				into = t
				break
			}
		}
		if into == nil {
			t := &ptemplate{pcluster: *c, wild: make([]bool, len(c.toks))}
			t.varied = slices.Clone(c.varied)
			for r := range t.samples {
				t.samples[r] = slices.Clone(c.samples[r])
			}
			t.enums = cloneEnums(c)
			buckets[string(bk)] = append(buckets[string(bk)], t)
			out = append(out, t)
			continue
		}
		for i := range into.toks {
			a, b := into.kinds[i], c.kinds[i]
			switch {
			case a == tkStatic && b == tkStatic:
				into.wild[i] = into.wild[i] || into.toks[i] != c.toks[i]
			case a == tkStatic || b == tkStatic:
				into.wild[i] = true // text here, data there
			case a != b:
				into.kinds[i] = tkToken // data of different types
			}
		}
		if into.enums != nil {
			// absorb merges the counts; static text counts as a value.
			c.enums = cloneEnums(c)
		}
		into.absorb(c)
	}
	for _, t := range out {
		t.text = t.render()
	}
	return out, total
}

// cloneEnums copies c's value counts, counting the text of static
// positions as their one value (they may become dynamic in a template).
func cloneEnums(c *pcluster) []map[string]int {
	if c.enums == nil {
		return nil
	}
	e := make([]map[string]int, len(c.enums))
	for i, m := range c.enums {
		switch {
		case c.kinds[i] == tkStatic:
			e[i] = map[string]int{c.toks[i]: c.n[0]}
		case m != nil:
			e[i] = maps.Clone(m)
		}
	}
	return e
}

// bucketKey: only structures of the same length and the same first
// token (or both starting with data) can merge.
func bucketKey(b []byte, c *pcluster) []byte {
	b = strconv.AppendInt(b, int64(len(c.toks)), 10)
	if len(c.toks) > 0 && c.kinds[0] == tkStatic {
		b = append(b, 0)
		b = append(b, c.toks[0]...)
	}
	return b
}

// similar: more than half of the positions agree: wild ones with
// anything, data with data of any type, text with the same text.
func (t *ptemplate) similar(c *pcluster) bool {
	same := 0
	for i := range t.toks {
		a, b := t.kinds[i], c.kinds[i]
		if t.wild[i] || a != tkStatic && b != tkStatic || a == tkStatic && b == tkStatic && t.toks[i] == c.toks[i] {
			same++
		}
	}
	return 2*same > len(t.toks)
}

// render writes the pattern: static text, values of dynamic positions
// that never varied, and <Type-N> for the others, numbered left to right.
func (t *ptemplate) render() string {
	var sb strings.Builder
	n := 0
	for i, tok := range t.toks {
		if i > 0 {
			sb.WriteByte(' ')
		}
		kind := t.kinds[i]
		if t.wild[i] {
			kind = tkToken
		} else if kind == tkStatic || !t.varied[i] {
			sb.WriteString(tok)
			continue
		}
		n++
		sb.WriteByte('<')
		sb.WriteString(ptokKindNames[kind])
		sb.WriteByte('-')
		sb.WriteString(strconv.Itoa(n))
		sb.WriteByte('>')
	}
	return sb.String()
}

// patternToken is one element of @tokens, shaped as the API's PatternToken.
type patternToken struct {
	DynamicTokenPosition int            `json:"dynamicTokenPosition,omitempty"`
	IsDynamic            bool           `json:"isDynamic"`
	TokenString          string         `json:"tokenString"`
	InferredTokenName    string         `json:"inferredTokenName,omitempty"`
	Enumerations         map[string]int `json:"enumerations,omitempty"`
}

// tokensJSON renders @tokens: the same tokens as render.
func (t *ptemplate) tokensJSON() string {
	out := make([]patternToken, len(t.toks))
	n := 0
	for i, tok := range t.toks {
		kind := t.kinds[i]
		if t.wild[i] {
			kind = tkToken
		} else if kind == tkStatic || !t.varied[i] {
			out[i] = patternToken{TokenString: tok}
			continue
		}
		n++
		out[i] = patternToken{DynamicTokenPosition: n, IsDynamic: true, TokenString: "<*>",
			InferredTokenName: ptokKindNames[kind] + "-" + strconv.Itoa(n)}
		if t.enums != nil && t.enums[i] != nil {
			out[i].Enumerations = t.enums[i]
		}
	}
	return marshalText(out)
}

// marshalText renders v as compact JSON without escaping <, > and &.
func marshalText(v any) string {
	var sb strings.Builder
	e := json.NewEncoder(&sb)
	e.SetEscapeHTML(false)
	_ = e.Encode(v) // slices and maps of strings and ints always encode
	return strings.TrimSuffix(sb.String(), "\n")
}

// samplesJSON renders @logSamples.
func samplesJSON(l []psample) string {
	type logSample struct {
		LogEvent string `json:"logEvent"`
	}
	out := make([]logSample, len(l))
	for i, s := range l {
		out[i].LogEvent = s.text
	}
	return marshalText(out)
}

// formatRatio renders @ratio with two decimals, as AWS's documentation
// shows it ("@ratio returns 0.50").
func formatRatio(n, total int) string {
	if total == 0 {
		return "0.00"
	}
	return strconv.FormatFloat(float64(n)/float64(total), 'f', 2, 64)
}

func (p *patternBarrier) finish(ws []barrierWorker, _ int) ([]record, error) {
	ts, total := mergeStructures(ws)
	diff := p.pl.diff != nil
	if !diff {
		ts = slices.DeleteFunc(ts, func(t *ptemplate) bool { return t.n[0] == 0 })
	}
	slices.SortFunc(ts, func(a, b *ptemplate) int {
		if a.n[0] != b.n[0] {
			return b.n[0] - a.n[0]
		}
		if a.n[1] != b.n[1] {
			return b.n[1] - a.n[1]
		}
		return strings.Compare(a.text, b.text)
	})
	pl := p.pl
	ns := len(pl.names)
	out := make([]record, 0, len(ts))
	for i, t := range ts {
		r := record{vals: make([]Value, ns), ord: i}
		set := func(name string, v Value) {
			if s, ok := pl.slotOf[name]; ok {
				r.vals[s] = v
			}
		}
		set("@pattern", strVal(t.text))
		set("@ratio", strVal(formatRatio(t.n[0], total[0])))
		set("@sampleCount", intVal(int64(t.n[0])))
		set("@severityLabel", strVal(severityLabels[max(t.sev, 0)]))
		samples := t.samples[0]
		if len(samples) == 0 {
			samples = t.samples[1]
		}
		if _, ok := pl.slotOf["@logSamples"]; ok {
			set("@logSamples", Value{K: KJSON, S: samplesJSON(samples)})
		}
		if _, ok := pl.slotOf["@tokens"]; ok {
			set("@tokens", Value{K: KJSON, S: t.tokensJSON()})
		}
		if diff {
			setDiffFields(set, t.n[0], t.n[1])
		}
		out = append(out, r)
	}
	return out, nil
}
