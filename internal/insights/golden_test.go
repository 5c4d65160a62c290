package insights

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// The golden files under testdata/*.test are small scripts:
//
//	load [stream=NAME]        following indented lines are events:
//	  TIME MESSAGE            TIME is RFC 3339 or epoch ms; the stream is
//	                          NAME (default "s1") unless the line starts
//	                          with "@stream " prefixes: "@other TIME MSG"
//	clear                     forget loaded events
//	query [limit=N] [start=T] [end=T]
//	  QUERY TEXT              indented, may span lines
//	expect [unordered]        rows, one per indented line, cells
//	  f=v | f=v               "field=value" separated by " | "
//	expect error SUBSTRING    the query fails with this text in the error
//	expect stats matched=N scanned=N
//
// Each query runs with blocks of 2 and of 1000 rows, and of 3 through a
// store-like source that drops unrequested columns and skips blocks by the
// pushed-down predicates, and must give the same rows every way; its String() must parse back to the same String().

type goldenEvent struct {
	ts     int64
	stream string
	msg    string
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.test")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".test"), func(t *testing.T) { runGoldenFile(t, f) })
	}
}

func parseGoldenTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return tm.UnixMilli(), nil
}

type goldenCase struct {
	line      int
	query     string
	limit     int
	start     int64
	end       int64
	expect    [][]ResultField
	unordered bool
	errText   string
	stats     string
	events    []goldenEvent
}

func runGoldenFile(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var events []goldenEvent
	var cur *goldenCase
	flush := func() {
		if cur != nil {
			cur.events = events
			c := *cur
			t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) { runGoldenCase(t, &c) })
		}
		cur = nil
	}
	indented := func(i int) bool {
		return i < len(lines) && (strings.HasPrefix(lines[i], "  ") || strings.HasPrefix(lines[i], "\t"))
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		switch fields[0] {
		case "clear":
			flush()
			events = nil
		case "load":
			flush()
			stream := "s1"
			for _, a := range fields[1:] {
				if v, ok := strings.CutPrefix(a, "stream="); ok {
					stream = v
				}
			}
			for indented(i + 1) {
				i++
				s := strings.TrimLeft(lines[i], " \t")
				st := stream
				if strings.HasPrefix(s, "@") {
					name, rest, _ := strings.Cut(s, " ")
					st, s = name[1:], rest
				}
				ts, msg, _ := strings.Cut(s, " ")
				ms, err := parseGoldenTime(ts)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, i+1, err)
				}
				events = append(events, goldenEvent{ms, st, msg})
			}
		case "query":
			flush()
			cur = &goldenCase{line: i + 1}
			for _, a := range fields[1:] {
				k, v, _ := strings.Cut(a, "=")
				switch k {
				case "limit":
					cur.limit, _ = strconv.Atoi(v)
				case "start":
					cur.start, _ = parseGoldenTime(v)
				case "end":
					cur.end, _ = parseGoldenTime(v)
				}
			}
			var q []string
			for indented(i + 1) {
				i++
				q = append(q, strings.TrimPrefix(strings.TrimPrefix(lines[i], "  "), "\t"))
			}
			cur.query = strings.Join(q, "\n")
		case "expect":
			if cur == nil {
				t.Fatalf("%s:%d: expect without query", path, i+1)
			}
			rest := strings.TrimSpace(strings.TrimPrefix(l, "expect"))
			switch {
			case strings.HasPrefix(rest, "error"):
				cur.errText = strings.TrimSpace(strings.TrimPrefix(rest, "error"))
			case strings.HasPrefix(rest, "stats"):
				cur.stats = strings.TrimSpace(strings.TrimPrefix(rest, "stats"))
			default:
				cur.unordered = rest == "unordered"
				cur.expect = [][]ResultField{}
				for indented(i + 1) {
					i++
					cur.expect = append(cur.expect, parseGoldenRow(strings.TrimSpace(lines[i])))
				}
			}
		default:
			t.Fatalf("%s:%d: unknown directive %q", path, i+1, fields[0])
		}
	}
	flush()
}

func parseGoldenRow(s string) []ResultField {
	if s == "(empty)" {
		return []ResultField{}
	}
	var row []ResultField
	for _, cell := range strings.Split(s, " | ") {
		k, v, _ := strings.Cut(cell, "=")
		row = append(row, ResultField{strings.TrimSpace(k), v})
	}
	return row
}

func goldenBlocks(evs []goldenEvent, size int) []*logstore.Block {
	stored := make([]logstore.StoredEvent, len(evs))
	for i, e := range evs {
		stored[i] = logstore.StoredEvent{Stream: e.stream, Timestamp: e.ts, IngestionTime: e.ts + 500, Seq: uint64(i + 1), Message: e.msg}
	}
	return BlocksOf(stored, size)
}

// dropPtr removes @ptr cells (opaque) after checking each non-aggregated
// row ends with a decodable one.
func dropPtr(t *testing.T, rows [][]ResultField) [][]ResultField {
	out := make([][]ResultField, len(rows))
	for i, r := range rows {
		for _, c := range r {
			if c.Field == "@ptr" {
				if _, _, _, err := DecodePtr(c.Value); err != nil {
					t.Errorf("row %d: bad @ptr %q", i, c.Value)
				}
				continue
			}
			out[i] = append(out[i], c)
		}
		if out[i] == nil {
			out[i] = []ResultField{}
		}
	}
	return out
}

func fmtRows(rows [][]ResultField) string {
	var b strings.Builder
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = c.Field + "=" + c.Value
		}
		if len(cells) == 0 {
			b.WriteString("  (empty)\n")
			continue
		}
		b.WriteString("  " + strings.Join(cells, " | ") + "\n")
	}
	return b.String()
}

func runGoldenCase(t *testing.T, c *goldenCase) {
	q, err := Parse(c.query)
	if c.errText != "" && err != nil {
		if !strings.Contains(err.Error(), c.errText) {
			t.Fatalf("query %q: error %q does not contain %q", c.query, err, c.errText)
		}
		return
	}
	if err != nil {
		t.Fatalf("query %q: %v", c.query, err)
	}
	checkRoundTrip(t, q)
	var first [][]ResultField
	for _, size := range []int{2, 1000, -3} {
		var src Source = &BlockSource{Blocks: goldenBlocks(c.events, size), Parallelism: 2}
		if size < 0 {
			// Blocks of 3 through a store-like source honouring Need and Preds.
			src = &strictSource{inner: &BlockSource{Blocks: goldenBlocks(c.events, -size), Parallelism: 1}}
		}
		req := Request{Query: q, Limit: c.limit, Start: c.start, End: c.end,
			Targets: []Target{{Group: "g", Log: "123456789012:g", Source: src}},
			Now:     time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
		res, err := (&Engine{}).Run(context.Background(), req)
		if c.errText != "" {
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Fatalf("query %q: want error containing %q, got %v", c.query, c.errText, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("query %q: %v", c.query, err)
		}
		for i, r := range res.Rows {
			n := len(r)
			hasPtr := slices.ContainsFunc(r, func(c ResultField) bool { return c.Field == "@ptr" })
			if q.hasPtr() && !hasPtr || q.hasPtr() && !strings.Contains(c.query, "@ptr") && r[n-1].Field != "@ptr" || !q.hasPtr() && hasPtr {
				t.Errorf("row %d: @ptr misplaced: %v", i, r)
			}
		}
		got := dropPtr(t, res.Rows)
		if c.stats != "" {
			s := fmt.Sprintf("matched=%g scanned=%g", res.Statistics.RecordsMatched, res.Statistics.RecordsScanned)
			if s != c.stats {
				t.Errorf("query %q: stats %s, want %s", c.query, s, c.stats)
			}
		}
		if c.expect != nil {
			want := c.expect
			g := got
			if c.unordered {
				g, want = sortedRows(g), sortedRows(want)
			}
			if fmtRows(g) != fmtRows(want) {
				t.Fatalf("block size %d, query:\n%s\ngot:\n%swant:\n%s", size, c.query, fmtRows(g), fmtRows(want))
			}
		}
		if first != nil && !c.unordered && fmtRows(first) != fmtRows(got) {
			t.Fatalf("results differ between block sizes:\n%s\n%s", fmtRows(first), fmtRows(got))
		}
		first = got
	}
}

func (q *Query) hasPtr() bool {
	for _, c := range q.Commands {
		switch c.(type) {
		case *StatsCmd, *PatternCmd:
			return false
		}
	}
	return true
}

func sortedRows(rows [][]ResultField) [][]ResultField {
	s := strings.Split(strings.TrimSuffix(fmtRows(rows), "\n"), "\n")
	slices.Sort(s)
	out := make([][]ResultField, 0, len(s))
	for _, l := range s {
		if l == "" {
			continue
		}
		out = append(out, parseGoldenRow(strings.TrimSpace(l)))
	}
	return out
}

func checkRoundTrip(t testing.TB, q *Query) {
	t.Helper()
	s := q.String()
	q2, err := Parse(s)
	if err != nil {
		t.Fatalf("String() of %q does not parse: %q: %v", q.Text, s, err)
	}
	if s2 := q2.String(); s2 != s {
		t.Fatalf("round trip differs:\n%s\n%s", s, s2)
	}
}
