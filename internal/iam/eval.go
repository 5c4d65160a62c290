package iam

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Request is what one policy evaluation is about.
type Request struct {
	Action   string // e.g. "logs:PutLogEvents"
	Resource string // ARN, or "*"
	// Principal is matched against trust policy Principal elements:
	// type ("AWS", "Service", …) and value.
	PrincipalType, Principal string
	// Context holds condition keys (aws:SourceAccount, …); key names are
	// case-insensitive.
	Context map[string]string
}

// Decision is the outcome of evaluating policies for a request.
type Decision int

const (
	ImplicitDeny Decision = iota // no statement allows
	Allowed
	ExplicitDeny // a Deny statement matched: wins over every Allow
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Evaluate applies IAM's single-account logic to policies: any matching
// Deny denies, else any matching Allow allows, else the request is denied
// implicitly.
func Evaluate(req Request, policies ...*Policy) Decision {
	ctx := make(map[string]string, len(req.Context))
	for k, v := range req.Context {
		ctx[strings.ToLower(k)] = v
	}
	d := ImplicitDeny
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			s := &p.Statements[i]
			if !s.matches(req, ctx, p.Version == "2012-10-17") {
				continue
			}
			if !s.Allow {
				return ExplicitDeny
			}
			d = Allowed
		}
	}
	return d
}

func (s *Statement) matches(req Request, ctx map[string]string, vars bool) bool {
	if s.Actions != nil && !anyMatch(s.Actions, req.Action, matchFold) {
		return false
	}
	if s.NotActions != nil && anyMatch(s.NotActions, req.Action, matchFold) {
		return false
	}
	subst := func(pattern string) string { return pattern }
	if vars {
		subst = func(pattern string) string { return substitute(pattern, ctx) }
	}
	resMatch := func(pattern, res string) bool { return match(subst(pattern), res) }
	if s.Resources != nil && !anyMatch(s.Resources, req.Resource, resMatch) {
		return false
	}
	if s.NotResources != nil && anyMatch(s.NotResources, req.Resource, resMatch) {
		return false
	}
	if s.Principals != nil && !principalMatches(s.Principals, req) {
		return false
	}
	if s.NotPrincipals != nil && principalMatches(s.NotPrincipals, req) {
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(ctx, subst) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, m func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if m(p, s) {
			return true
		}
	}
	return false
}

func principalMatches(pr map[string][]string, req Request) bool {
	if req.PrincipalType == "" {
		return false
	}
	for _, v := range pr[req.PrincipalType] {
		if v == "*" || v == req.Principal {
			return true
		}
		// An account id stands for the account's root, which covers
		// every principal of the account.
		if req.PrincipalType == "AWS" && accountOf(req.Principal) != "" &&
			(v == accountOf(req.Principal) || v == "arn:aws:iam::"+accountOf(req.Principal)+":root") {
			return true
		}
	}
	return false
}

func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// substitute replaces policy variables ${key} with context values (only in
// 2012-10-17 policies); ${*}, ${?} and ${$} are the escaped characters. An
// unknown variable leaves the pattern unmatchable, as in IAM.
func substitute(pattern string, ctx map[string]string) string {
	if !strings.Contains(pattern, "${") {
		return pattern
	}
	var b strings.Builder
	for {
		i := strings.Index(pattern, "${")
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		b.WriteString(pattern[:i])
		name := pattern[i+2 : i+j]
		switch name {
		case "*", "?", "$":
			// Escaped literal: cannot be told from a wildcard after
			// substitution, so a literal '*' is written as itself
			// (rare in practice).
			b.WriteString(name)
		default:
			v, ok := ctx[strings.ToLower(name)]
			if !ok {
				return "\x00unmatchable"
			}
			b.WriteString(v)
		}
		pattern = pattern[i+j+1:]
	}
}

// match reports whether s matches pattern, where '*' matches any run of
// characters (including ':' and '/') and '?' exactly one; case-sensitive.
func match(pattern, s string) bool { return glob(pattern, s, false) }

// matchFold is match ignoring case (actions).
func matchFold(pattern, s string) bool { return glob(pattern, s, true) }

func glob(p, s string, fold bool) bool {
	// Iterative matching with backtracking to the last '*': linear for
	// the patterns policies hold.
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(p) {
			switch c := p[px]; {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?' || c == s[sx] || (fold && lower(c) == lower(s[sx])):
				px++
				sx++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		px = starP + 1
		starS++
		sx = starS
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// arnMatch compares ARNs segment by segment (ArnLike/ArnEquals): wildcards
// do not run across the first five ':'-separated segments.
func arnMatch(pattern, arn string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return len(pp) == 1 && match(pattern, arn)
	}
	for i := range pp {
		if !match(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// holds evaluates one condition against the request context.
func (c *Condition) holds(ctx map[string]string, subst func(string) string) bool {
	v, present := ctx[strings.ToLower(c.Key)]
	if c.base == "Null" {
		// Null: "true" means the key must be absent.
		for _, want := range c.Values {
			if (want == "true") == !present {
				return true
			}
		}
		return false
	}
	if !present {
		// Absent key: IfExists and ForAllValues (every one of no values)
		// make the condition hold; the negated operators hold too
		// (nothing to be unequal to), the others not.
		return c.ifExists || c.forAll || negated(c.base)
	}
	hit := false
	for _, want := range c.Values {
		if c.compare(subst(want), v) {
			hit = true
			break
		}
	}
	if negated(c.base) {
		// Negated operators: true when no value matches the positive form.
		return !hit
	}
	return hit
}

func negated(op string) bool {
	switch op {
	case "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
		"DateNotEquals", "ArnNotEquals", "ArnNotLike", "NotIpAddress":
		return true
	}
	return false
}

// compare applies the positive form of the operator to one value.
func (c *Condition) compare(want, got string) bool {
	switch c.base {
	case "StringEquals", "StringNotEquals":
		return want == got
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(want, got)
	case "StringLike", "StringNotLike":
		return match(want, got)
	case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
		return arnMatch(want, got)
	case "Bool":
		return strings.EqualFold(want, got)
	case "BinaryEquals":
		return want == got
	case "IpAddress", "NotIpAddress":
		ip, err := netip.ParseAddr(got)
		if err != nil {
			return false
		}
		if pfx, err := netip.ParsePrefix(want); err == nil {
			return pfx.Contains(ip)
		}
		w, err := netip.ParseAddr(want)
		return err == nil && w == ip
	}
	if strings.HasPrefix(c.base, "Numeric") {
		w, err1 := strconv.ParseFloat(want, 64)
		g, err2 := strconv.ParseFloat(got, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return cmp(strings.TrimPrefix(c.base, "Numeric"), compareFloat(g, w))
	}
	if strings.HasPrefix(c.base, "Date") {
		w, ok1 := parseDate(want)
		g, ok2 := parseDate(got)
		if !ok1 || !ok2 {
			return false
		}
		return cmp(strings.TrimPrefix(c.base, "Date"), g.Compare(w))
	}
	return false
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmp interprets the ordering of got relative to want for an operator
// suffix ("Equals", "LessThan", …).
func cmp(op string, c int) bool {
	switch op {
	case "Equals", "NotEquals":
		return c == 0
	case "LessThan":
		return c < 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThan":
		return c > 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

func parseDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
