package filterpattern

import (
	"errors"
	"strings"
	"testing"
)

// The seed corpus lives in testdata/fuzz/<target>/ (kept in git); f.Add adds a few more.

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "ERROR", `{ $.a = "x" }`, "[a, ..., b > 1]", "%a|b%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		p, err := Compile(pattern)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("Compile(%q) error %T %v is not a *SyntaxError", pattern, err, err)
			}
			if !strings.HasPrefix(err.Error(), "Invalid filter pattern: ") || se.Pos < 0 || se.Pos > len(pattern)+1 {
				t.Fatalf("Compile(%q): bad error %q (pos %d)", pattern, err, se.Pos)
			}
			return
		}
		s := p.String()
		q, err := Compile(s)
		if err != nil {
			t.Fatalf("Compile(%q) ok but its String() %q fails: %v", pattern, s, err)
		}
		if q.String() != s {
			t.Fatalf("String() not stable for %q: %q then %q", pattern, s, q.String())
		}
		if q.Kind() != p.Kind() || q.RegexCount() != p.RegexCount() {
			t.Fatalf("round trip of %q changed kind or regex count", pattern)
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, c := range [][2]string{
		{"ERROR -ARGUMENTS", "[ERROR] MISSING ARGUMENTS"},
		{`{ $.a[*].b = 1* || $.c NOT EXISTS }`, `{"a":[{"b":12}],"c":null}`},
		{"[ip, user, ..., code = 4*, size > 10]", `1.2.3.4 - frank [10/Oct/2000:13:25:15 -0700] "GET /x" 404 1534`},
		{"[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport=22, protocol=6, packets, bytes, start, end, action=REJECT, logstatus]", "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.9.12 49761 22 6 1 40 1418530010 1418530070 REJECT OK"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(message)
		q := MustCompile(p.String())
		if q.Match(message) != got {
			t.Fatalf("%q and its canonical form %q disagree on %q", pattern, p.String(), message)
		}
		fields, ok := p.MatchFields(message)
		if ok != got || (ok && fields == nil) {
			t.Fatalf("MatchFields(%q) ok=%v fields=%v, Match=%v", message, ok, fields, got)
		}
		vals, ok := p.MatchRefs(message, "$.a", "$a", "$1")
		if ok != got || (ok && len(vals) != 3) {
			t.Fatalf("MatchRefs(%q) ok=%v, Match=%v", message, ok, got)
		}
	})
}
