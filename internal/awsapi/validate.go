package awsapi

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Validator collects member-constraint violations and reports them the way
// AWS does: "1 validation error detected: Value 'x y' at 'logGroupNamePrefix'
// failed to satisfy constraint: Member must satisfy regular expression
// pattern: [\.\-_/#A-Za-z0-9]+". Paths are member names as on the wire; list
// members are "list.N.member" (1-based) like AWS's messages.
//
// The SDKs check only required/min client side, so max, pattern and enum
// must be checked here or flowwatch accepts requests AWS rejects.
type Validator struct {
	errs []string
	n    int // violations seen; only the first maxListed are kept
}

// maxListed bounds the violations spelled out in one message, so that a
// batch of 10,000 bad events gets a readable error, not a megabyte.
const maxListed = 10

// maxShown bounds how much of a rejected value is echoed back, so that a
// 1 MB message does not come back in the error.
const maxShown = 512

func (v *Validator) add(value, path, constraint string) {
	if len(value) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "..."
	}
	v.note(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, path, constraint))
}

func (v *Validator) note(msg string) {
	v.n++
	if len(v.errs) < maxListed {
		v.errs = append(v.errs, msg)
	}
}

// Required reports a missing required member.
func (v *Validator) Required(path string, present bool) bool {
	if !present {
		v.note(fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", path))
	}
	return present
}

// String checks a string member's length (in characters) against min and
// max (max < 0: unbounded) and, when pattern is not nil, its pattern.
func (v *Validator) String(path, s string, min, max int, pattern *Pattern) {
	n := utf8.RuneCountInString(s)
	if n < min {
		v.add(s, path, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
	if max >= 0 && n > max {
		v.add(s, path, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
	if pattern != nil && !pattern.re.MatchString(s) {
		v.add(s, path, "Member must satisfy regular expression pattern: "+pattern.expr)
	}
}

// Enum checks that s is one of allowed.
func (v *Validator) Enum(path, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(s, path, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// IntEnum checks that n is one of allowed (e.g. retention days).
func (v *Validator) IntEnum(path string, n int64, allowed ...int64) {
	s := make([]string, len(allowed))
	for i, a := range allowed {
		if n == a {
			return
		}
		s[i] = strconv.FormatInt(a, 10)
	}
	v.add(strconv.FormatInt(n, 10), path, "Member must satisfy enum value set: ["+strings.Join(s, ", ")+"]")
}

// Range checks min <= n <= max for a numeric member.
func (v *Validator) Range(path string, n, min, max int64) {
	if n < min {
		v.add(strconv.FormatInt(n, 10), path, "Member must have value greater than or equal to "+strconv.FormatInt(min, 10))
	}
	if n > max {
		v.add(strconv.FormatInt(n, 10), path, "Member must have value less than or equal to "+strconv.FormatInt(max, 10))
	}
}

// Min checks n >= min for a numeric member with no upper bound.
func (v *Validator) Min(path string, n, min int64) {
	if n < min {
		v.add(strconv.FormatInt(n, 10), path, "Member must have value greater than or equal to "+strconv.FormatInt(min, 10))
	}
}

// Count checks the number of entries of a list or map member; shown is how
// the collection is echoed (AWS prints the whole collection; we print a
// summary so that a 10,001-event batch does not come back in the error).
func (v *Validator) Count(path string, n, min, max int, shown string) {
	if n < min {
		v.add(shown, path, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
	if max >= 0 && n > max {
		v.add(shown, path, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// Errorf adds a violation phrased by the caller (a constraint the model
// cannot express in the standard forms).
func (v *Validator) Errorf(value, path, constraint string) { v.add(value, path, constraint) }

// Failed reports whether any violation was recorded.
func (v *Validator) Failed() bool { return v.n > 0 }

// Err returns nil or an InvalidParameterException listing every violation,
// as CloudWatch Logs does (other services use ValidationException: see
// ErrCode).
func (v *Validator) Err() error { return v.ErrCode("InvalidParameterException") }

// ErrCode is Err with another exception name.
func (v *Validator) ErrCode(code string) error {
	switch v.n {
	case 0:
		return nil
	case 1:
		return NewError(code, "%s", "1 validation error detected: "+v.errs[0])
	}
	msg := strconv.Itoa(v.n) + " validation errors detected: " + strings.Join(v.errs, "; ")
	if v.n > len(v.errs) {
		msg += "; and " + strconv.Itoa(v.n-len(v.errs)) + " more"
	}
	return NewError(code, "%s", msg)
}

// Pattern is a model pattern: matched against the whole value (as Java's
// String.matches does in AWS's validators) and quoted in messages as written
// in the model.
type Pattern struct {
	expr string
	re   *regexp.Regexp
}

var patterns sync.Map

// MustPattern compiles a model pattern once; it panics on a bad pattern
// because patterns are program constants.
func MustPattern(expr string) *Pattern {
	if p, ok := patterns.Load(expr); ok {
		return p.(*Pattern)
	}
	p := &Pattern{expr: expr, re: regexp.MustCompile(`^(?:` + expr + `)$`)}
	patterns.Store(expr, p)
	return p
}

// Match reports whether s matches the whole pattern.
func (p *Pattern) Match(s string) bool { return p.re.MatchString(s) }

// StringShape is the constraints of a string shape used as a list member
// or a map key or value.
type StringShape struct {
	Min, Max int // Max < 0: unbounded
	Pattern  *Pattern
}

func (s StringShape) ok(v string) bool {
	n := utf8.RuneCountInString(v)
	return n >= s.Min && (s.Max < 0 || n <= s.Max) && (s.Pattern == nil || s.Pattern.Match(v))
}

// describe lists every constraint of the shape, as AWS does inside
// "... must satisfy constraint: [...]".
func (s StringShape) describe() string {
	var c []string
	if s.Max >= 0 {
		c = append(c, "Member must have length less than or equal to "+strconv.Itoa(s.Max))
	}
	if s.Min > 0 {
		c = append(c, "Member must have length greater than or equal to "+strconv.Itoa(s.Min))
	}
	if s.Pattern != nil {
		c = append(c, "Member must satisfy regular expression pattern: "+s.Pattern.expr)
	}
	return "[" + strings.Join(c, ", ") + "]"
}

// ShowList renders a list of strings the way AWS echoes it: [a, b].
func ShowList(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

// ShowMap renders a map the way AWS echoes it: {k=v, k2=v2} (sorted here,
// so messages are stable).
func ShowMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Members checks every member of a list of strings against shape; one
// violation names the list: "Member must satisfy constraint: [...]".
func (v *Validator) Members(path string, items []string, shape StringShape) {
	for _, it := range items {
		if !shape.ok(it) {
			v.add(ShowList(items), path, "Member must satisfy constraint: "+shape.describe())
			return
		}
	}
}

// MapEntries checks the keys and values of a map member: one violation for
// the keys ("Map keys must satisfy constraint: [...]") and one for the
// values ("Map value must satisfy constraint: [...]"), as AWS reports them.
func (v *Validator) MapEntries(path string, m map[string]string, key, value StringShape) {
	badKey, badValue := false, false
	for k, val := range m {
		badKey = badKey || !key.ok(k)
		badValue = badValue || !value.ok(val)
	}
	if badKey {
		v.add(ShowMap(m), path, "Map keys must satisfy constraint: "+key.describe())
	}
	if badValue {
		v.add(ShowMap(m), path, "Map value must satisfy constraint: "+value.describe())
	}
}
