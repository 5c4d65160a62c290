package ec2

import (
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// A filterSet names the filters one Describe operation supports: each
// returns the item's values for it (several for list-valued attributes
// such as addresses.private-ip-address).
type filterSet[T any] map[string]func(*T) []string

// matcher is a validated list of filters for items of type T. Filters
// AND together, the values of one filter OR, and a value matches when any
// of the item's values matches it (EC2 semantics).
type matcher[T any] struct {
	fs   []filter
	get  []func(*T) []string
	tags func(*T) []Tag
}

// compile validates fs against set; tag:KEY and tag-key are accepted when
// tags is not nil.
func compile[T any](fs []filter, set filterSet[T], tags func(*T) []Tag) (*matcher[T], error) {
	m := &matcher[T]{fs: fs, tags: tags}
	for _, f := range fs {
		var g func(*T) []string
		switch {
		case set[f.Name] != nil:
			g = set[f.Name]
		case tags != nil && strings.HasPrefix(f.Name, "tag:") && len(f.Name) > 4:
			key := f.Name[4:]
			g = func(x *T) []string {
				var vs []string
				for _, t := range tags(x) {
					if t.Key == key {
						vs = append(vs, t.Value)
					}
				}
				return vs
			}
		case tags != nil && f.Name == "tag-key":
			g = func(x *T) []string {
				var vs []string
				for _, t := range tags(x) {
					vs = append(vs, t.Key)
				}
				return vs
			}
		case tags != nil && f.Name == "tag-value":
			g = func(x *T) []string {
				var vs []string
				for _, t := range tags(x) {
					vs = append(vs, t.Value)
				}
				return vs
			}
		default:
			if f.Name == "" {
				return nil, invalidFilter("null")
			}
			return nil, invalidFilter(f.Name)
		}
		if len(f.Values) > 200 {
			return nil, ec2Error(400, "FilterLimitExceeded", "The maximum number of filter values specified on a single call is 200")
		}
		m.get = append(m.get, g)
	}
	return m, nil
}

func (m *matcher[T]) match(x *T) bool {
	for k, f := range m.fs {
		have := m.get[k](x)
		ok := false
	values:
		for _, want := range f.Values {
			for _, h := range have {
				if glob(want, h) {
					ok = true
					break values
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// glob matches EC2 filter wildcards: * any run, ? one character, and a
// backslash escaping the next character.
func glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	// Iterative matcher with backtracking to the last star.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			switch {
			case c == '*':
				star, mark = p, i
				p++
				continue
			case c == '?':
				p++
				i++
				continue
			case c == '\\' && p+1 < len(pattern):
				if pattern[p+1] == s[i] {
					p += 2
					i++
					continue
				}
			case c == s[i]:
				p++
				i++
				continue
			}
		}
		if star < 0 {
			return false
		}
		p = star + 1
		mark++
		i = mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// page returns the items of one page of ids (sorted ascending) after the
// position in token, and the token of the next page ("" when done).
// kind keeps one operation's tokens out of another's.
func page[T any](items []T, id func(*T) string, kind, token string, max int) ([]T, string, error) {
	start := 0
	if token != "" {
		f, ok := awsapi.DecodeToken(token, kind)
		if !ok || len(f) != 1 {
			return nil, "", invalidToken()
		}
		for start < len(items) && id(&items[start]) <= f[0] {
			start++
		}
	}
	items = items[start:]
	if max <= 0 || len(items) <= max {
		return items, "", nil
	}
	items = items[:max]
	return items, awsapi.EncodeToken(kind, id(&items[max-1])), nil
}

// maxResults decodes MaxResults with the 5–1000 range of the Describe
// operations; 0 means no limit.
func maxResults(p params, clamp bool) (int, error) {
	n, ok, err := p.integer("MaxResults")
	if err != nil || !ok {
		return 0, err
	}
	if n < 5 {
		return 0, invalidValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value greater than 5.", n)
	}
	if n > 1000 {
		if clamp {
			return 1000, nil
		}
		return 0, invalidValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value less than or equal to 1000.", n)
	}
	return n, nil
}
