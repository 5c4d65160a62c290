package ec2

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// EC2 requests are flat form parameters ("ec2" protocol, spec §6.1): lists
// as Name.N with the member's locationName capitalised, structures with
// dots, booleans as true/false. params decodes them by wire name; the
// IAM-style Query codec (Name.member.N) does not fit EC2's list encoding,
// so EC2 keeps its own small decoder here.
type params struct{ v url.Values }

// parseParams decodes a form body ('+' and %20 both decode to a space, as
// botocore and the Go SDK send them respectively).
func parseParams(body string, query url.Values) (params, error) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return params{}, errMalformedQuery(err)
	}
	// EC2 also accepts the parameters in the URL (GET); the body wins.
	for k, vs := range query {
		if _, ok := v[k]; !ok {
			v[k] = vs
		}
	}
	return params{v}, nil
}

// str returns a parameter and whether it was sent.
func (p params) str(name string) (string, bool) {
	vs, ok := p.v[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func (p params) get(name string) string {
	s, _ := p.str(name)
	return s
}

// boolean decodes a boolean parameter; absent is false.
func (p params) boolean(name string) (bool, error) {
	s, ok := p.str(name)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalidValue("Invalid value '%s' for %s. Valid values: true, false", s, name)
}

// integer decodes an integer parameter; ok is false when it was not sent.
func (p params) integer(name string) (n int, ok bool, err error) {
	s, ok := p.str(name)
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil {
		return 0, true, invalidValue("Invalid value '%s' for %s: not an integer", s, name)
	}
	return n, true, nil
}

// indexes returns the N of the keys "prefix.N" and "prefix.N.rest", in
// numeric order, each N once. Clients number from 1 without gaps, but
// order, not contiguity, is what matters.
func (p params) indexes(prefix string) []int {
	seen := map[int]bool{}
	for k := range p.v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// list returns the values of prefix.1, prefix.2, … in index order.
func (p params) list(prefix string) []string {
	var out []string
	for _, n := range p.indexes(prefix) {
		if s, ok := p.str(fmt.Sprintf("%s.%d", prefix, n)); ok {
			out = append(out, s)
		}
	}
	return out
}

// filter is one Filter.N: a name and the values any of which may match.
type filter struct {
	Name   string
	Values []string
}

func (p params) filters() []filter {
	var out []filter
	for _, n := range p.indexes("Filter") {
		base := fmt.Sprintf("Filter.%d", n)
		out = append(out, filter{Name: p.get(base + ".Name"), Values: p.list(base + ".Value")})
	}
	return out
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type tagSpec struct {
	ResourceType string
	Tags         []Tag
}

func (p params) tagSpecs() []tagSpec {
	var out []tagSpec
	for _, n := range p.indexes("TagSpecification") {
		base := fmt.Sprintf("TagSpecification.%d", n)
		ts := tagSpec{ResourceType: p.get(base + ".ResourceType")}
		ts.Tags = p.tags(base + ".Tag")
		out = append(out, ts)
	}
	return out
}

// tags decodes prefix.N.Key / prefix.N.Value.
func (p params) tags(prefix string) []Tag {
	var out []Tag
	for _, m := range p.indexes(prefix) {
		tb := fmt.Sprintf("%s.%d", prefix, m)
		out = append(out, Tag{Key: p.get(tb + ".Key"), Value: p.get(tb + ".Value")})
	}
	return out
}
