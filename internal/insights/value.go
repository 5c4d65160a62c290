package insights

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Kind is the runtime type of a Value.
type Kind uint8

const (
	KNull Kind = iota // absent field
	KStr              // text; numeric if the whole text parses as a number
	KInt              // an integer whose canonical decimal text is its rendering
	KIP               // an IPv4 address (host order in I) whose dotted quad is its rendering
	KNum              // a computed number (float64 bits in I)
	KTime             // epoch milliseconds, rendered YYYY-MM-DD HH:MM:SS.mmm
	KBool             // 0 or 1, rendered "0"/"1"
	KJSON             // a JSON map or list, compact text in S
)

// Value is one field value. Values extracted from log text stay text-exact:
// canonical ints and IPv4 addresses are held typed (so filters and group
// keys compare them without allocating) but render to the original text.
type Value struct {
	S string
	I int64
	K Kind
}

var null = Value{}

func strVal(s string) Value  { return Value{K: KStr, S: s} }
func intVal(i int64) Value   { return Value{K: KInt, I: i} }
func timeVal(ms int64) Value { return Value{K: KTime, I: ms} }
func numVal(f float64) Value { return Value{K: KNum, I: int64(math.Float64bits(f))} }
func (v Value) num() float64 { return math.Float64frombits(uint64(v.I)) }
func boolVal(b bool) Value {
	if b {
		return Value{K: KBool, I: 1}
	}
	return Value{K: KBool}
}

// classify turns text extracted from a log into a Value, typing it exactly
// as the store types token columns so that equal text groups together
// whichever path produced it.
func classify(s string) Value {
	if len(s) > 0 && len(s) <= 19 && (s[0] >= '0' && s[0] <= '9' || s[0] == '-') {
		if i, ok := parseCanonicalInt(s); ok {
			return Value{K: KInt, I: i}
		}
		if ip, ok := parseCanonicalIPv4(s); ok {
			return Value{K: KIP, I: int64(ip)}
		}
	}
	return Value{K: KStr, S: s}
}

// Float returns the numeric value and whether v is numeric.
func (v Value) Float() (float64, bool) {
	switch v.K {
	case KInt, KTime, KBool:
		return float64(v.I), true
	case KNum:
		return v.num(), true
	case KStr:
		return parseNumber(v.S)
	}
	return 0, false
}

// parseNumber accepts decimal numbers only (no hex, inf or nan), so that
// words like "Infinity" stay text.
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// isTrue is the truth of a filter result: booleans, non-zero numbers.
func (v Value) isTrue() bool {
	switch v.K {
	case KBool, KInt:
		return v.I != 0
	case KNum:
		return v.num() != 0
	case KStr:
		return v.S != ""
	case KNull:
		return false
	}
	return true
}

// String renders v exactly as GetQueryResults would.
func (v Value) String() string {
	switch v.K {
	case KStr, KJSON:
		return v.S
	case KInt, KBool:
		return strconv.FormatInt(v.I, 10)
	case KIP:
		return string(appendIPv4(nil, uint32(v.I)))
	case KNum:
		return formatNumber(v.num())
	case KTime:
		return formatTime(v.I)
	}
	return ""
}

// appendText appends the rendering of v to b without allocating for the
// typed kinds.
func (v Value) appendText(b []byte) []byte {
	switch v.K {
	case KStr, KJSON:
		return append(b, v.S...)
	case KInt, KBool:
		return strconv.AppendInt(b, v.I, 10)
	case KIP:
		return appendIPv4(b, uint32(v.I))
	}
	return append(b, v.String()...)
}

func appendIPv4(b []byte, ip uint32) []byte {
	for s := 24; s >= 0; s -= 8 {
		b = strconv.AppendUint(b, uint64(ip>>uint(s)&0xff), 10)
		if s > 0 {
			b = append(b, '.')
		}
	}
	return b
}

const timeLayout = "2006-01-02 15:04:05.000"

func formatTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(timeLayout) }

// formatNumber renders computed numbers: integral values as plain integers
// (counts and sums, as AWS shows them), others in Java Double.toString
// style, the form AWS uses for the numbers it computes itself.
func formatNumber(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	if math.IsInf(f, 0) {
		if f > 0 {
			return "Infinity"
		}
		return "-Infinity"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.2345e+07
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// parseCanonicalInt and parseCanonicalIPv4 are the store's rule for
// typed tokens, so a typed value renders back to the same text.
var (
	parseCanonicalInt  = logstore.ParseCanonicalInt
	parseCanonicalIPv4 = logstore.ParseCanonicalIPv4
)

// Comparison for = and !=: numeric when both sides are numeric, else text.
func valuesEqual(a, b Value) bool {
	if a.K == KNull || b.K == KNull {
		return false
	}
	if a.K == b.K && (a.K == KInt || a.K == KIP || a.K == KTime || a.K == KBool) {
		return a.I == b.I
	}
	if a.K == KStr && b.K == KStr {
		if a.S == b.S {
			return true
		}
	}
	if a.K == KIP || b.K == KIP {
		if a.K == KIP && b.K == KStr {
			ip, ok := parseCanonicalIPv4(b.S)
			return ok && uint32(a.I) == ip
		}
		if b.K == KIP && a.K == KStr {
			ip, ok := parseCanonicalIPv4(a.S)
			return ok && uint32(b.I) == ip
		}
		return false
	}
	fa, oka := a.Float()
	fb, okb := b.Float()
	if oka && okb {
		return fa == fb
	}
	if a.K == KStr && b.K == KStr {
		return false
	}
	var ba, bb [64]byte
	return string(a.appendText(ba[:0])) == string(b.appendText(bb[:0]))
}

// orderCompare is < / > semantics: numeric when both numeric, else text.
// ok is false when either side is absent.
func orderCompare(a, b Value) (int, bool) {
	if a.K == KNull || b.K == KNull {
		return 0, false
	}
	if a.K == b.K && (a.K == KInt || a.K == KIP || a.K == KTime) {
		return cmpInt(a.I, b.I), true
	}
	fa, oka := a.Float()
	fb, okb := b.Float()
	if oka && okb {
		switch {
		case fa < fb:
			return -1, true
		case fa > fb:
			return 1, true
		}
		return 0, true
	}
	// A number and text (such as the "-" of NODATA flow records) do not
	// order: the comparison is false, as for absent fields.
	if oka != okb && a.K != KIP && b.K != KIP {
		return 0, false
	}
	var ba, bb [64]byte
	return strings.Compare(string(a.appendText(ba[:0])), string(b.appendText(bb[:0]))), true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortCompare orders two present values the way `sort … asc` does: every
// non-number before every number, numbers by value, other text by natural
// order (digit runs by length then value, other runs by code point).
func sortCompare(a, b Value) int {
	an, af := sortNumber(a)
	bn, bf := sortNumber(b)
	switch {
	case an && bn:
		if af < bf {
			return -1
		}
		if af > bf {
			return 1
		}
		// Equal values: leading zeros first (0, 01, 1).
		var ba, bb [32]byte
		return cmpInt(int64(len(b.appendText(bb[:0]))), int64(len(a.appendText(ba[:0]))))
	case an:
		return 1
	case bn:
		return -1
	}
	if a.K == KIP && b.K == KIP {
		return cmpInt(a.I, b.I)
	}
	var ba, bb [64]byte
	return naturalCompare(a.appendText(ba[:0]), b.appendText(bb[:0]))
}

// sortNumber: typed numbers, and text made only of digits (the AWS rule).
func sortNumber(v Value) (bool, float64) {
	switch v.K {
	case KInt, KTime, KBool:
		return true, float64(v.I)
	case KNum:
		return true, v.num()
	case KStr:
		if !allDigits(v.S) {
			return false, 0
		}
		f, _ := strconv.ParseFloat(v.S, 64)
		return true, f
	}
	return false, 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allDigits: s is not empty and only ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func naturalCompare(a, b []byte) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			ra, rb := a[si:i], b[sj:j]
			if len(ra) != len(rb) {
				return cmpInt(int64(len(ra)), int64(len(rb)))
			}
			if c := strings.Compare(string(ra), string(rb)); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			return cmpInt(int64(a[i]), int64(b[j]))
		}
		i++
		j++
	}
	return cmpInt(int64(len(a)-i), int64(len(b)-j))
}
