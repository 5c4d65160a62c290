package insights

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

func TestPatternTokens(t *testing.T) {
	cases := []struct {
		in   string
		toks []string
		kind []ptokKind
	}{
		{"2023-01-01 19:00:01 [INFO] id 12342342k124-12345",
			[]string{"2023-01-01 19:00:01", "[INFO]", "id", "12342342k124-12345"},
			[]ptokKind{tkTime, tkStatic, tkStatic, tkID}},
		{"  a\tb\n 2024-05-01T10:00:00.123+02:00 19:00:01 x",
			[]string{"a", "b", "2024-05-01T10:00:00.123+02:00", "19:00:01", "x"},
			[]ptokKind{tkStatic, tkStatic, tkTime, tkTime, tkStatic}},
		{"from 10.0.0.1:443 [2001:db8::1] 10.1.2 v1.2.3 42 -7 eni-0a1b2c3d abcdefgh1",
			[]string{"from", "10.0.0.1:443", "[2001:db8::1]", "10.1.2", "v1.2.3", "42", "-7", "eni-0a1b2c3d", "abcdefgh1"},
			[]ptokKind{tkStatic, tkIP, tkIP, tkToken, tkToken, tkToken, tkToken, tkID, tkID}},
		{"", nil, nil},
	}
	for _, c := range cases {
		toks, kinds := patternTokens(c.in, nil, nil)
		if fmt.Sprint(toks) != fmt.Sprint(c.toks) || fmt.Sprint(kinds) != fmt.Sprint(c.kind) {
			t.Errorf("patternTokens(%q) = %q %v, want %q %v", c.in, toks, kinds, c.toks, c.kind)
		}
	}
	// Only the first patternMaxChars bytes count, cut at a character.
	long := strings.Repeat("é", patternMaxChars) // 2 bytes each
	toks, _ := patternTokens(long+" tail", nil, nil)
	if len(toks) != 1 || len(toks[0]) != patternMaxChars || !strings.HasPrefix(long, toks[0]) {
		t.Errorf("long value: %d tokens, first %d bytes", len(toks), len(toks[0]))
	}
}

func TestSeverityOf(t *testing.T) {
	for in, want := range map[string]string{
		"[INFO] started":                 "INFO",
		"2024-01-01 WARNING low disk":    "WARN",
		`{"level":"error","msg":"boom"}`: "ERROR",
		"level=debug retry 3":            "DEBUG",
		"FATAL: out of memory; error":    "FATAL",
		"INFO retry after error":         "INFO",
		"terrors informational":          "NONE",
		"":                               "NONE",
	} {
		if got := severityLabels[severityOf(in)]; got != want {
			t.Errorf("severityOf(%q) = %s, want %s", in, got, want)
		}
	}
}

// runPattern runs query over messages (one a millisecond) with the given
// block size and parallelism and returns the rows as text.
func runPattern(t *testing.T, query string, msgs []string, size, par int) string {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]logstore.StoredEvent, len(msgs))
	for i, m := range msgs {
		evs[i] = logstore.StoredEvent{Stream: "s", Timestamp: int64(1000 + i), Seq: uint64(i + 1), Message: m}
	}
	res, err := (&Engine{}).Run(context.Background(), Request{Query: q, Now: time.Unix(0, 0),
		Targets: []Target{{Group: "g", Log: "1:g", Source: &BlockSource{Blocks: BlocksOf(evs, size), Parallelism: par}}}})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, r := range res.Rows {
		for i, c := range r {
			if i > 0 {
				sb.WriteString(" | ")
			}
			sb.WriteString(c.Field + "=" + c.Value)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TestPatternDeterministic: the patterns depend on the events only, not
// on how they are cut into blocks or spread over workers; every event is
// counted once.
func TestPatternDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta"}
	var msgs []string
	for range 3000 {
		var m string
		switch rng.IntN(5) {
		case 0:
			m = fmt.Sprintf("[INFO] Request time: %d ms", rng.IntN(500))
		case 1:
			m = fmt.Sprintf("user %s logged in from 10.0.%d.%d", words[rng.IntN(4)], rng.IntN(4), rng.IntN(250))
		case 2:
			m = fmt.Sprintf("2024-01-0%d 12:00:%02d ERROR job %08x failed", 1+rng.IntN(9), rng.IntN(60), rng.Uint32()|1<<28)
		case 3:
			m = "service " + words[rng.IntN(4)] + " " + words[rng.IntN(4)]
		default:
			m = strings.Repeat(words[rng.IntN(4)]+" ", 1+rng.IntN(6))
		}
		msgs = append(msgs, m)
	}
	query := "pattern @message | display @pattern, @sampleCount, @severityLabel, @ratio, @logSamples, @tokens"
	want := runPattern(t, query, msgs, 1000, 1)
	for _, c := range []struct{ size, par int }{{7, 2}, {64, 4}, {3000, 1}, {1, 3}} {
		if got := runPattern(t, query, msgs, c.size, c.par); got != want {
			t.Fatalf("blocks of %d, %d workers:\n%s\nwant:\n%s", c.size, c.par, got, want)
		}
	}
	// Up to maxTokenValues values a dynamic token lists them (the user
	// names), beyond it none (the request times).
	for _, line := range strings.Split(want, "\n") {
		switch {
		case strings.HasPrefix(line, "@pattern=user "):
			if !strings.Contains(line, `"inferredTokenName":"Token-1","enumerations":{"alpha":`) {
				t.Errorf("no user names in %s", line)
			}
		case strings.HasPrefix(line, "@pattern=[INFO] Request time:"):
			if strings.Contains(line, "enumerations") {
				t.Errorf("request times enumerated in %s", line)
			}
		}
	}
	if strings.Count(want, "@pattern=<Time-1> ERROR job") != 1 {
		t.Errorf("ERROR job split into several patterns:\n%s", want)
	}
	// Every event lands in one pattern.
	got := runPattern(t, "pattern @message | stats sum(@sampleCount) as n", msgs, 100, 2)
	if got != "n="+strconv.Itoa(len(msgs))+"\n" {
		t.Errorf("sum of @sampleCount: %s", got)
	}
	for _, p := range []string{"[INFO] Request time: <Token-1> ms", "user <Token-1> logged in from <IPAddress-2>",
		"<Time-1> ERROR job <Token-2> failed"} { // ids of letters and digits, or of digits only
		if !strings.Contains(want, "@pattern="+p+" |") {
			t.Errorf("no pattern %q in\n%s", p, want)
		}
	}
}

// TestPatternMerge: structures of one length merge when more than half
// their tokens agree and the first token is the same.
func TestPatternMerge(t *testing.T) {
	msgs := []string{
		"service alpha started", "service beta started", // 2 of 3 agree: merge
		"job done", "job failed", // 1 of 2: no merge
		"alpha x y z", "beta x y z", // first token differs: no merge
	}
	got := runPattern(t, "pattern @message | display @pattern, @sampleCount", msgs, 10, 1)
	want := "@pattern=service <Token-1> started | @sampleCount=2\n" +
		"@pattern=alpha x y z | @sampleCount=1\n" +
		"@pattern=beta x y z | @sampleCount=1\n" +
		"@pattern=job done | @sampleCount=1\n" +
		"@pattern=job failed | @sampleCount=1\n"
	if got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}

// TestPatternStructureCap: beyond maxPatternStructures distinct
// structures a worker counts events without clustering them.
func TestPatternStructureCap(t *testing.T) {
	word := func(i int) string {
		b := []byte("w")
		for ; i > 0; i /= 26 {
			b = append(b, byte('a'+i%26))
		}
		return string(b)
	}
	msgs := make([]string, maxPatternStructures+5)
	for i := range msgs {
		msgs[i] = word(i)
	}
	got := runPattern(t, "pattern @message | stats count(*) as patterns, sum(@sampleCount) as n", msgs, len(msgs), 1)
	if want := fmt.Sprintf("patterns=%d | n=%d\n", maxPatternStructures, maxPatternStructures); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAddSample(t *testing.T) {
	var l []psample
	for _, ts := range []int64{5, 1, 9, 3, 9, 7} {
		l = addSample(l, psample{ts: ts, text: strconv.FormatInt(ts, 10)})
	}
	if fmt.Sprint(l) != "[{9 0 9} {9 0 9} {7 0 7}]" {
		t.Errorf("samples %v", l)
	}
}

func TestCutSample(t *testing.T) {
	if s := strings.Repeat("a", maxSampleBytes); cutSample(s) != s {
		t.Error("a short sample was cut")
	}
	long := "a" + strings.Repeat("é", maxSampleBytes) // é is 2 bytes: byte maxSampleBytes starts one
	if got := cutSample(long); len(got) != maxSampleBytes-1 || !strings.HasPrefix(long, got) {
		t.Errorf("cut to %d bytes", len(got))
	}
}

func TestFormatRatio(t *testing.T) {
	for _, c := range []struct {
		n, total int
		want     string
	}{{1, 2, "0.50"}, {1, 3, "0.33"}, {2, 3, "0.67"}, {3, 3, "1.00"}, {0, 0, "0.00"}, {1, 1000, "0.00"}} {
		if got := formatRatio(c.n, c.total); got != c.want {
			t.Errorf("formatRatio(%d, %d) = %s, want %s", c.n, c.total, got, c.want)
		}
	}
}

// BenchmarkPattern: `pattern @message` over default-format flow logs
// (FLOWWATCH_BENCH_RECORDS, as the Q benchmarks).
func BenchmarkPattern(b *testing.B) {
	runBench(b, false, `pattern @message`)
}

// FuzzPatternTokens: tokenising never panics, keeps every non-space byte
// of the value's first patternMaxChars bytes in order, and renders a
// pattern that clusters back to itself.
func FuzzPatternTokens(f *testing.F) {
	for _, s := range []string{"2023-01-01 19:00:01 [INFO] id 12342342k124-12345", "a  b\t\n2024-05-01 [::1]:80 10.0.0.1",
		"2024-05-01 2024-05-02 12:00:00", strings.Repeat("x ", 800) + "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, kinds := patternTokens(s, nil, nil)
		if len(toks) != len(kinds) {
			t.Fatalf("%d tokens, %d kinds", len(toks), len(kinds))
		}
		cut := s
		if len(cut) > patternMaxChars {
			cut = cut[:patternMaxChars]
		}
		squash := func(s string) string {
			b := make([]byte, 0, len(s))
			for i := 0; i < len(s); i++ {
				if !isSpaceByte(s[i]) {
					b = append(b, s[i])
				}
			}
			return string(b)
		}
		got := squash(strings.Join(toks, ""))
		if want := squash(cut); !strings.HasPrefix(want, got) || len(want)-len(got) > utf8.UTFMax {
			t.Fatalf("tokens %q of %q", toks, s)
		}
		for i, tok := range toks {
			if tok == "" || kinds[i] == tkStatic && hasDigit(tok) {
				t.Fatalf("token %d %q kind %d", i, tok, kinds[i])
			}
		}
	})
}
