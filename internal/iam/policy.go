package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// PolicyKind says which rules a policy document is validated against.
type PolicyKind int

const (
	// IdentityPolicy is an inline policy of a user or role: no Principal,
	// Resource required.
	IdentityPolicy PolicyKind = iota
	// TrustPolicy is a role's assume-role policy: Principal required, no
	// Resource, only STS actions.
	TrustPolicy
)

// Policy is a parsed, validated policy document.
type Policy struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy. Exactly one of Actions and
// NotActions is set (likewise resources; principals only in trust
// policies).
type Statement struct {
	Sid           string
	Allow         bool
	Actions       []string
	NotActions    []string
	Resources     []string
	NotResources  []string
	HasResource   bool // Resource or NotResource present
	Principals    map[string][]string
	NotPrincipals map[string][]string
	Conditions    []Condition
}

// Condition is one (operator, key) pair of a Condition block; its values
// are OR-ed, the pairs of a statement AND-ed.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	base     string // operator without qualifier and IfExists, e.g. "StringLike"
	ifExists bool
	forAll   bool // ForAllValues: holds vacuously when the key is absent
	Key      string
	Values   []string
}

// MalformedError is a policy document IAM refuses; Message is AWS's text.
type MalformedError struct{ Message string }

func (e *MalformedError) Error() string { return "malformed policy document: " + e.Message }

func malformed(format string, args ...any) error {
	return &MalformedError{Message: fmt.Sprintf(format, args...)}
}

// Messages IAM answers MalformedPolicyDocument with.
const (
	msgSyntax         = "Syntax errors in policy."
	msgLegacy         = "The policy failed legacy parsing"
	msgNoActions      = "Policy statement must contain actions."
	msgNoResources    = "Policy statement must contain resources."
	msgSidUnique      = "Statement IDs (SID) in a single policy must be unique."
	msgVendor         = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon       = "Actions/Condition can contain only one colon."
	msgPrincipalInID  = "Policy document should not specify a principal."
	msgTrustResource  = "Has prohibited field Resource."
	msgTrustPrincipal = "Missing required field Principal."
	msgTrustActions   = "AssumeRole policy may only specify STS AssumeRole actions."
)

var (
	topElements       = map[string]bool{"Version": true, "Id": true, "Statement": true}
	statementElements = map[string]bool{"Sid": true, "Effect": true, "Action": true, "NotAction": true,
		"Resource": true, "NotResource": true, "Principal": true, "NotPrincipal": true, "Condition": true}
	vendorChars = regexp.MustCompile(`[^a-zA-Z0-9\-.]`)
	// trustActions are the actions a trust policy may name.
	trustActions = []string{"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity",
		"sts:TagSession", "sts:SetSourceIdentity", "sts:SetContext"}
	conditionOperators = map[string]bool{
		"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
		"StringLike": true, "StringNotLike": true,
		"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true, "NumericLessThanEquals": true,
		"NumericGreaterThan": true, "NumericGreaterThanEquals": true,
		"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
		"DateGreaterThan": true, "DateGreaterThanEquals": true,
		"Bool": true, "BinaryEquals": true, "IpAddress": true, "NotIpAddress": true,
		"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true, "Null": true,
	}
	principalTypes = map[string]bool{"AWS": true, "Service": true, "Federated": true, "CanonicalUser": true}
)

// ParsePolicy parses and validates doc as IAM does for kind, returning a
// *MalformedError with AWS's message when IAM would refuse it. The checks
// run in IAM's order, so a document with several faults gets AWS's first
// message.
func ParsePolicy(doc string, kind PolicyKind) (*Policy, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&top); err != nil || top == nil || dec.More() {
		return nil, malformed(msgSyntax)
	}
	for k := range top {
		if !topElements[k] {
			return nil, malformed(msgSyntax)
		}
	}
	p := &Policy{Version: "2008-10-17"}
	if v, ok := top["Version"]; ok {
		if json.Unmarshal(v, &p.Version) != nil || (p.Version != "2012-10-17" && p.Version != "2008-10-17") {
			return nil, malformed(msgSyntax)
		}
	}
	if v, ok := top["Id"]; ok {
		var id string
		if json.Unmarshal(v, &id) != nil {
			return nil, malformed(msgSyntax)
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed(msgSyntax)
	}
	var stmts []map[string]json.RawMessage
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var one map[string]json.RawMessage
		if json.Unmarshal(raw, &one) != nil {
			return nil, malformed(msgSyntax)
		}
		stmts = append(stmts, one)
	} else if json.Unmarshal(raw, &stmts) != nil || len(stmts) == 0 {
		return nil, malformed(msgSyntax)
	}
	effects := make([]string, len(stmts))
	for i, st := range stmts {
		s, effect, err := parseStatement(st)
		if err != nil {
			return nil, err
		}
		effects[i] = effect
		p.Statements = append(p.Statements, s)
	}
	// "Legacy parsing": Effect is case-sensitive here though the syntax
	// check above accepted any case.
	for _, e := range effects {
		if e != "Allow" && e != "Deny" {
			return nil, malformed(msgLegacy)
		}
	}
	for _, s := range p.Statements {
		for _, r := range append(append([]string(nil), s.Resources...), s.NotResources...) {
			if err := checkResource(r); err != nil {
				return nil, err
			}
		}
	}
	sids := map[string]bool{}
	for _, s := range p.Statements {
		if s.Sid == "" {
			continue
		}
		if sids[s.Sid] {
			return nil, malformed(msgSidUnique)
		}
		sids[s.Sid] = true
	}
	for _, s := range p.Statements {
		if len(s.Actions) == 0 && len(s.NotActions) == 0 {
			return nil, malformed(msgNoActions)
		}
	}
	switch kind {
	case IdentityPolicy:
		for _, s := range p.Statements {
			if s.Principals != nil || s.NotPrincipals != nil {
				return nil, malformed(msgPrincipalInID)
			}
			if !s.HasResource || (len(s.Resources) == 0 && len(s.NotResources) == 0) {
				return nil, malformed(msgNoResources)
			}
		}
	case TrustPolicy:
		for _, s := range p.Statements {
			if s.HasResource {
				return nil, malformed(msgTrustResource)
			}
			if s.Principals == nil && s.NotPrincipals == nil {
				return nil, malformed(msgTrustPrincipal)
			}
		}
	}
	for _, s := range p.Statements {
		for _, a := range append(append([]string(nil), s.Actions...), s.NotActions...) {
			if err := checkAction(a); err != nil {
				return nil, err
			}
		}
		for _, c := range s.Conditions {
			if !strings.Contains(c.Key, ":") {
				return nil, malformed(msgVendor)
			}
		}
	}
	if kind == TrustPolicy {
		for _, s := range p.Statements {
			for _, a := range s.Actions {
				if !trustAction(a) {
					return nil, malformed(msgTrustActions)
				}
			}
			for _, pr := range []map[string][]string{s.Principals, s.NotPrincipals} {
				if err := checkPrincipals(pr); err != nil {
					return nil, err
				}
			}
		}
	}
	return p, nil
}

func parseStatement(st map[string]json.RawMessage) (Statement, string, error) {
	var s Statement
	for k := range st {
		if !statementElements[k] {
			return s, "", malformed(msgSyntax)
		}
	}
	_, hasA := st["Action"]
	_, hasNA := st["NotAction"]
	_, hasR := st["Resource"]
	_, hasNR := st["NotResource"]
	_, hasP := st["Principal"]
	_, hasNP := st["NotPrincipal"]
	if (hasA && hasNA) || (hasR && hasNR) || (hasP && hasNP) {
		return s, "", malformed(msgSyntax)
	}
	var effect string
	if v, ok := st["Effect"]; !ok || json.Unmarshal(v, &effect) != nil ||
		(!strings.EqualFold(effect, "Allow") && !strings.EqualFold(effect, "Deny")) {
		return s, "", malformed(msgSyntax)
	}
	s.Allow = effect == "Allow"
	if v, ok := st["Sid"]; ok && json.Unmarshal(v, &s.Sid) != nil {
		return s, "", malformed(msgSyntax)
	}
	var err error
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"Action", &s.Actions}, {"NotAction", &s.NotActions}, {"Resource", &s.Resources}, {"NotResource", &s.NotResources}} {
		if v, ok := st[f.name]; ok {
			if *f.dst, err = stringOrList(v); err != nil {
				return s, "", err
			}
		}
	}
	s.HasResource = hasR || hasNR
	if hasP {
		if s.Principals, err = parsePrincipal(st["Principal"]); err != nil {
			return s, "", err
		}
	}
	if hasNP {
		if s.NotPrincipals, err = parsePrincipal(st["NotPrincipal"]); err != nil {
			return s, "", err
		}
	}
	if v, ok := st["Condition"]; ok {
		if s.Conditions, err = parseConditions(v); err != nil {
			return s, "", err
		}
	}
	return s, effect, nil
}

// stringOrList decodes a policy element that is a string or a list of
// strings. An empty list is kept empty (the caller reports it).
func stringOrList(v json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(v, &many) != nil {
		return nil, malformed(msgSyntax)
	}
	if many == nil {
		many = []string{}
	}
	return many, nil
}

// parsePrincipal decodes "*" (everyone, as {"AWS": ["*"]}) or a map of
// principal type to a string or list of strings.
func parsePrincipal(v json.RawMessage) (map[string][]string, error) {
	var star string
	if json.Unmarshal(v, &star) == nil {
		if star != "*" {
			return nil, malformed("Invalid principal in policy: %q", star)
		}
		return map[string][]string{"AWS": {"*"}}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil || m == nil {
		return nil, malformed(msgSyntax)
	}
	out := make(map[string][]string, len(m))
	for typ, raw := range m {
		vals, err := stringOrList(raw)
		if err != nil {
			return nil, err
		}
		out[typ] = vals
	}
	return out, nil
}

func checkPrincipals(pr map[string][]string) error {
	types := make([]string, 0, len(pr))
	for t := range pr {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, typ := range types {
		if !principalTypes[typ] {
			return malformed("Invalid principal in policy: %q", typ)
		}
		for _, v := range pr[typ] {
			if typ == "AWS" && !validAWSPrincipal(v) {
				return malformed("Invalid principal in policy: \"AWS\":%q", v)
			}
			if v == "" {
				return malformed("Invalid principal in policy: %q:%q", typ, v)
			}
		}
	}
	return nil
}

var (
	accountID     = regexp.MustCompile(`^[0-9]{12}$`)
	principalARNs = regexp.MustCompile(`^arn:aws:(iam|sts)::[0-9]{12}:(root|user/.+|role/.+|assumed-role/.+|federated-user/.+)$`)
)

func validAWSPrincipal(v string) bool {
	return v == "*" || accountID.MatchString(v) || principalARNs.MatchString(v)
}

func trustAction(a string) bool {
	if a == "*" || strings.EqualFold(a, "sts:*") {
		return true
	}
	for _, t := range trustActions {
		if matchFold(a, t) {
			return true
		}
	}
	return false
}

func parseConditions(v json.RawMessage) ([]Condition, error) {
	var block map[string]map[string]json.RawMessage
	if json.Unmarshal(v, &block) != nil {
		return nil, malformed(msgSyntax)
	}
	ops := make([]string, 0, len(block))
	for op := range block {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var out []Condition
	for _, op := range ops {
		base, forAll := op, false
		if q, rest, ok := strings.Cut(base, ":"); ok && (q == "ForAnyValue" || q == "ForAllValues") {
			base, forAll = rest, q == "ForAllValues"
		}
		base, ifExists := strings.CutSuffix(base, "IfExists")
		if !conditionOperators[base] {
			if len(block[op]) == 0 {
				continue
			}
			return nil, malformed(msgSyntax)
		}
		keys := make([]string, 0, len(block[op]))
		for k := range block[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals, err := conditionValues(block[op][k])
			if err != nil {
				return nil, err
			}
			out = append(out, Condition{Operator: op, base: base, ifExists: ifExists, forAll: forAll, Key: k, Values: vals})
		}
	}
	return out, nil
}

// conditionValues accepts strings, booleans and numbers (IAM stores them
// as text), alone or in a list.
func conditionValues(v json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '[' {
		if json.Unmarshal(t, &items) != nil {
			return nil, malformed(msgSyntax)
		}
	} else {
		items = []json.RawMessage{v}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
			continue
		}
		var x any
		if json.Unmarshal(it, &x) != nil {
			return nil, malformed(msgSyntax)
		}
		switch x.(type) {
		case bool, float64:
			out = append(out, strings.TrimSpace(string(it)))
		default:
			return nil, malformed(msgSyntax)
		}
	}
	return out, nil
}

func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	parts := strings.Split(a, ":")
	switch {
	case len(parts) == 1:
		return malformed(msgVendor)
	case len(parts) > 2:
		return malformed(msgOneColon)
	case parts[0] != "*" && vendorChars.MatchString(parts[0]):
		return malformed("Vendor %s is not valid", parts[0])
	}
	return nil
}

func checkResource(r string) error {
	if r == "*" {
		return nil
	}
	if !strings.Contains(r, ":") {
		return malformed("Resource %s must be in ARN format or \"*\".", r)
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 3 || parts[0] != "arn" {
		return malformed("Resource %s must be in ARN format or \"*\".", r)
	}
	if strings.ContainsAny(parts[2], "*?") {
		return malformed("Resource vendor must be fully qualified and cannot contain regexes.")
	}
	if parts[2] == "iam" && len(parts) > 3 && parts[3] != "" {
		return malformed("IAM resource %s cannot contain region information.", r)
	}
	return nil
}

// IsMalformed reports whether err is a policy document IAM refuses.
func IsMalformed(err error) bool {
	var m *MalformedError
	return errors.As(err, &m)
}
