package filterpattern

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// goldenCase is one "pattern:" block of testdata/patterns.txt.
type goldenCase struct {
	line    int
	pattern string
	str     *string
	err     *string
	msgs    []goldenMsg
}

type goldenMsg struct {
	line   int
	text   string
	match  bool
	fields map[string]string // nil: not checked
}

func loadGolden(t testing.TB) []*goldenCase {
	t.Helper()
	f, err := os.Open("testdata/patterns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs := map[string]string{}
	var cases []*goldenCase
	var cur *goldenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		need := func() {
			if cur == nil {
				t.Fatalf("patterns.txt:%d: %q before any pattern", n, l)
			}
		}
		expand := func(s string) string {
			if strings.HasPrefix(s, "@") {
				d, ok := docs[s[1:]]
				if !ok {
					t.Fatalf("patterns.txt:%d: unknown doc %s", n, s)
				}
				return d
			}
			return s
		}
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "doc "):
			name, text, _ := strings.Cut(l[4:], " ")
			docs[name] = text
		case strings.HasPrefix(l, "pattern:"):
			cur = &goldenCase{line: n, pattern: strings.TrimPrefix(strings.TrimPrefix(l, "pattern:"), " ")}
			cases = append(cases, cur)
		case strings.HasPrefix(l, "string:"):
			need()
			s := strings.TrimPrefix(strings.TrimPrefix(l, "string:"), " ")
			cur.str = &s
		case strings.HasPrefix(l, "error: "):
			need()
			s := l[len("error: "):]
			cur.err = &s
		case strings.HasPrefix(l, "fields: "):
			need()
			if len(cur.msgs) == 0 || !cur.msgs[len(cur.msgs)-1].match {
				t.Fatalf("patterns.txt:%d: fields must follow a + line", n)
			}
			m := map[string]string{}
			if err := json.Unmarshal([]byte(l[len("fields: "):]), &m); err != nil {
				t.Fatalf("patterns.txt:%d: %v", n, err)
			}
			cur.msgs[len(cur.msgs)-1].fields = m
		case l == "+" || l == "-" || strings.HasPrefix(l, "+ ") || strings.HasPrefix(l, "- "):
			need()
			text := ""
			if len(l) > 2 {
				text = expand(l[2:])
			}
			cur.msgs = append(cur.msgs, goldenMsg{line: n, text: text, match: l[0] == '+'})
		default:
			t.Fatalf("patterns.txt:%d: cannot parse %q", n, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		p, err := Compile(c.pattern)
		if c.err != nil {
			if err == nil {
				t.Errorf("patterns.txt:%d: Compile(%q) succeeded as %q, want error %q", c.line, c.pattern, p.String(), *c.err)
			} else if err.Error() != *c.err {
				t.Errorf("patterns.txt:%d: Compile(%q) error\n got: %s\nwant: %s", c.line, c.pattern, err, *c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("patterns.txt:%d: Compile(%q): %v", c.line, c.pattern, err)
			continue
		}
		if c.str != nil && p.String() != *c.str {
			t.Errorf("patterns.txt:%d: String() = %q, want %q", c.line, p.String(), *c.str)
		}
		// The canonical text must compile to an equivalent pattern with the same canonical text.
		q, err := Compile(p.String())
		if err != nil {
			t.Errorf("patterns.txt:%d: Compile(String() = %q): %v", c.line, p.String(), err)
			continue
		}
		if q.String() != p.String() {
			t.Errorf("patterns.txt:%d: String() not stable: %q then %q", c.line, p.String(), q.String())
		}
		for _, m := range c.msgs {
			if got := p.Match(m.text); got != m.match {
				t.Errorf("patterns.txt:%d: %s Match(%q) = %v, want %v", m.line, c.pattern, m.text, got, m.match)
			}
			if got := q.Match(m.text); got != m.match {
				t.Errorf("patterns.txt:%d: round-tripped %s Match(%q) = %v, want %v", m.line, q, m.text, got, m.match)
			}
			fields, ok := p.MatchFields(m.text)
			if ok != m.match {
				t.Errorf("patterns.txt:%d: MatchFields ok = %v, want %v", m.line, ok, m.match)
			}
			if m.fields != nil && !reflect.DeepEqual(fields, m.fields) {
				t.Errorf("patterns.txt:%d: MatchFields(%q)\n got: %v\nwant: %v", m.line, m.text, fields, m.fields)
			}
		}
	}
}

// TestStringRoundTrip checks that every golden pattern's canonical text compiles to a pattern
// with the same canonical text, kind and regex count, and that the two agree on every message
// of the golden file (not only the messages of their own case).
func TestStringRoundTrip(t *testing.T) {
	cases := loadGolden(t)
	var msgs []string
	for _, c := range cases {
		for _, m := range c.msgs {
			msgs = append(msgs, m.text)
		}
	}
	for _, c := range cases {
		p, err := Compile(c.pattern)
		if err != nil {
			continue
		}
		q, err := Compile(p.String())
		if err != nil {
			t.Errorf("patterns.txt:%d: Compile(%q): %v", c.line, p.String(), err)
			continue
		}
		if q.String() != p.String() || q.Kind() != p.Kind() || q.RegexCount() != p.RegexCount() {
			t.Errorf("patterns.txt:%d: %q round-trips to %q", c.line, p.String(), q.String())
		}
		for _, m := range msgs {
			if p.Match(m) != q.Match(m) {
				t.Errorf("patterns.txt:%d: %q and %q disagree on %q", c.line, c.pattern, q.String(), m)
			}
		}
	}
}
