package filterpattern

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

func TestCompileErrorType(t *testing.T) {
	_, err := Compile(`ERROR "abc`)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrInvalidPattern) {
		t.Fatalf("error %v (%T) is not a *SyntaxError wrapping ErrInvalidPattern", err, err)
	}
	if se.Pos != 7 || se.Msg != `unterminated quoted string (add the closing '"')` {
		t.Fatalf("got pos %d msg %q", se.Pos, se.Msg)
	}
}

func TestKind(t *testing.T) {
	for pat, want := range map[string]Kind{
		"": KindAll, "  ": KindAll, "ERROR": KindTerms, `"[x]"`: KindTerms, "%a%": KindTerms,
		" { $.a = 1 } ": KindJSON, "[a]": KindDelimited, "-x": KindTerms,
	} {
		if got := MustCompile(pat).Kind(); got != want {
			t.Errorf("Kind(%q) = %v, want %v", pat, got, want)
		}
	}
	if n := MustCompile(`{ $.a = %x% || $.b = %y% }`).RegexCount(); n != 2 {
		t.Errorf("RegexCount = %d, want 2", n)
	}
}

func TestMatchRefs(t *testing.T) {
	type tc struct {
		pattern, message string
		refs             []string
		want             []Value
		ok               bool
	}
	for _, c := range []tc{
		{`{ $.latency = * }`, `{"latency":12.5,"svc":"api","obj":{},"list":[{"n":"7"}]}`,
			[]string{"$.latency", "$.svc", "$.obj", "$.missing", "$.list[0].n", "$.list[*].n", "$bad"},
			[]Value{{"12.5", true, true}, {"api", true, false}, {}, {}, {"7", true, true}, {"7", true, true}, {}}, true},
		{`{ $.latency = * }`, `{"other":1}`, []string{"$.latency"}, nil, false},
		{`[..., bytes > 100, start, end, action, status]`,
			"2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 80 6 10 840 1418530010 1418530070 REJECT OK",
			[]string{"$bytes", "$action", "$3", "$nope", "$.x"},
			[]Value{{"840", true, true}, {"REJECT", true, false}, {"eni-1", true, false}, {}, {}}, true},
		{`ERROR`, `ERROR x`, []string{"$.a"}, []Value{{}}, true},
		{`ERROR`, `INFO x`, []string{"$.a"}, nil, false},
	} {
		got, ok := MustCompile(c.pattern).MatchRefs(c.message, c.refs...)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s on %q:\n got %v %+v\nwant %v %+v", c.pattern, c.message, ok, got, c.ok, c.want)
		}
	}
}

func TestCheckRef(t *testing.T) {
	j := MustCompile(`{ $.a = 1 }`)
	d := MustCompile(`[a, b, ...]`)
	tm := MustCompile(`ERROR`)
	for _, c := range []struct {
		p    *Pattern
		ref  string
		okay bool
	}{
		{j, "$.latency", true}, {j, "$.a.b[0]", true}, {j, "$.a b", false}, {j, "$a", false},
		{d, "$a", true}, {d, "$3", true}, {d, "$c", false}, {d, "$.a", false},
		{tm, "$.a", false}, {tm, "$a", false}, {j, "1", false},
	} {
		if err := c.p.CheckRef(c.ref); (err == nil) != c.okay {
			t.Errorf("CheckRef(%s, %q) = %v, want ok=%v", c.p, c.ref, err, c.okay)
		}
	}
}

// A compiled pattern is shared by all ingest goroutines; run with -race.
func TestConcurrentMatch(t *testing.T) {
	pats := []*Pattern{MustCompile(benchTerms), MustCompile(benchDelim), MustCompile(benchJSON), MustCompile(`%REJECT\sOK$%`)}
	msgs := append(append([]string{}, flowLines...), flowJSON...)
	want := make([][]bool, len(pats))
	for i, p := range pats {
		for _, m := range msgs {
			want[i] = append(want[i], p.Match(m))
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				for i, p := range pats {
					for j, m := range msgs {
						if p.Match(m) != want[i][j] {
							t.Errorf("concurrent Match differs for %s on %q", p, m)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}
