package insights

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

func TestComparisonRange(t *testing.T) {
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	cases := []struct {
		period, start, end, wantStart, wantEnd string
	}{
		{"", "2024-01-02T00:00:00Z", "2024-01-02T23:59:59.999Z", "2024-01-01T00:00:00Z", "2024-01-01T23:59:59.999Z"},
		{"", "2024-01-02T10:00:00Z", "2024-01-02T10:15:00Z", "2024-01-02T09:44:59.999Z", "2024-01-02T09:59:59.999Z"},
		{"previousDay", "2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", "2024-02-29T10:00:00Z", "2024-02-29T12:00:00Z"},
		{"previousWeek", "2024-01-02T00:00:00Z", "2024-01-04T00:00:00Z", "2023-12-26T00:00:00Z", "2023-12-28T00:00:00Z"},
		{"previousMonth", "2024-01-15T06:30:00Z", "2024-01-15T07:30:00Z", "2023-12-15T06:30:00Z", "2023-12-15T07:30:00Z"},
		// A month back from the 31st is the month's last day; the length stays.
		{"previousMonth", "2024-03-31T23:00:00Z", "2024-04-01T01:00:00Z", "2024-02-29T23:00:00Z", "2024-03-01T01:00:00Z"},
	}
	for _, c := range cases {
		s, e, err := comparisonRange(c.period, ms(c.start), ms(c.end))
		if err != nil {
			t.Errorf("%s %s–%s: %v", c.period, c.start, c.end, err)
			continue
		}
		if s != ms(c.wantStart) || e != ms(c.wantEnd) {
			t.Errorf("%s %s–%s: got %s–%s, want %s–%s", c.period, c.start, c.end,
				time.UnixMilli(s).UTC().Format(time.RFC3339Nano), time.UnixMilli(e).UTC().Format(time.RFC3339Nano), c.wantStart, c.wantEnd)
		}
	}
	if _, _, err := comparisonRange("", logstore.MinTime, logstore.MaxTime-1); err == nil {
		t.Error("an unbounded range has no comparison range")
	}
}

func TestSetDiffFields(t *testing.T) {
	for _, c := range []struct {
		cur, prev int
		want      string
	}{
		{3, 0, "@previousSampleCount=0 @changeType=NEW"},
		{0, 4, "@previousSampleCount=4 @changeType=REMOVED @changePercentage=-100"},
		{3, 2, "@previousSampleCount=2 @changeType=INCREASED @changePercentage=50"},
		{1, 3, "@previousSampleCount=3 @changeType=DECREASED @changePercentage=-66.67"},
		{2, 2, "@previousSampleCount=2 @changeType=UNCHANGED @changePercentage=0"},
	} {
		var got []string
		setDiffFields(func(n string, v Value) { got = append(got, n+"="+v.String()) }, c.cur, c.prev)
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%d vs %d: %s, want %s", c.cur, c.prev, s, c.want)
		}
	}
}

// TestDiffRoundTrip: the String() of every form of diff parses back.
func TestDiffRoundTrip(t *testing.T) {
	for _, s := range []string{
		`pattern @message | diff`,
		`pattern @message | DIFF previousday`,
		`filter @message like /ERROR/ | pattern @message | diff previousWeek | sort @changePercentage desc`,
		`parse @message "[*] *" as level, rest | pattern rest | diff previousMonth | limit 5`,
		`fields concat(a, b) as m | pattern m | diff previousDay | filter @changeType = "NEW" | display @pattern`,
	} {
		q, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		checkRoundTrip(t, q)
	}
}

// TestDiffScansBothRanges: events of the comparison range reach only the
// previous counts, events of neither range nothing, and the result does
// not depend on how blocks are split.
func TestDiffScansBothRanges(t *testing.T) {
	day := 24 * time.Hour.Milliseconds()
	start := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	var evs []logstore.StoredEvent
	add := func(ts int64, msg string) {
		evs = append(evs, logstore.StoredEvent{Stream: "s", Timestamp: ts, Seq: uint64(len(evs) + 1), Message: msg})
	}
	for i := range 50 {
		add(start-day+int64(i)*1000, fmt.Sprintf("request %d done", i)) // previous day
		add(start-2*day+int64(i), "outside both ranges")
	}
	for i := range 80 {
		add(start+int64(i)*1000, fmt.Sprintf("request %d done", i))
	}
	add(start+5, "new thing")
	q, err := Parse("pattern @message | diff | display @pattern, @sampleCount, @previousSampleCount, @changeType, @changePercentage")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, size := range []int{1, 7, 1000} {
		res, err := (&Engine{}).Run(context.Background(), Request{Query: q, Start: start, End: start + day - 1,
			Targets: []Target{{Group: "g", Log: "1:g", Source: &BlockSource{Blocks: BlocksOf(evs, size), Parallelism: 2}}}})
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(res.Rows)
		if want == "" {
			want = got
			exp := "[[{@pattern request <Token-1> done} {@sampleCount 80} {@previousSampleCount 50} {@changeType INCREASED} {@changePercentage 60}]" +
				" [{@pattern new thing} {@sampleCount 1} {@previousSampleCount 0} {@changeType NEW}]]"
			if got != exp {
				t.Fatalf("got %s\nwant %s", got, exp)
			}
			if res.Statistics.RecordsScanned != 131 {
				t.Errorf("recordsScanned %g, want 131 (both ranges)", res.Statistics.RecordsScanned)
			}
		} else if got != want {
			t.Fatalf("blocks of %d: %s, want %s", size, got, want)
		}
	}
}

// TestPatternDiffThroughStores: pattern and diff through the real stores
// (in memory, the durable DB before and after a flush) give what in-memory
// blocks of the same events give; the stores are asked for each range.
func TestPatternDiffThroughStores(t *testing.T) {
	evs := mixedVPCEvents()
	lo, hi := evs[0].Timestamp, evs[0].Timestamp
	for _, e := range evs {
		lo, hi = min(lo, e.Timestamp), max(hi, e.Timestamp)
	}
	// The query range (mid, end] and its previous period [lo, mid] of the
	// same length cover every event.
	mid := lo + (hi-lo)/2
	end := 2*mid - lo + 1
	queries := []string{
		`pattern @message | diff | display @pattern, @sampleCount, @previousSampleCount, @changeType, @changePercentage, @ratio, @severityLabel`,
		`filter action = "REJECT" | pattern @message | diff | display @pattern, @sampleCount, @previousSampleCount, @changeType`,
		`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, byt, st, en, act, status | pattern act | diff`,
		`pattern @message | display @pattern, @sampleCount, @tokens`,
	}
	run := func(t *testing.T, src Source, qs string) (string, Statistics) {
		res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs), Start: mid + 1, End: end,
			Targets: []Target{{Group: "vpc", Source: src}}})
		if err != nil {
			t.Fatalf("%s: %v", qs, err)
		}
		if len(res.Rows) == 0 {
			t.Fatalf("%s: no rows", qs)
		}
		return fmt.Sprint(res.Rows), res.Statistics
	}
	ref := &BlockSource{Blocks: BlocksOf(evs, 64)}
	want := map[string]string{}
	for _, qs := range queries {
		want[qs], _ = run(t, ref, qs)
	}
	check := func(t *testing.T, src Source) {
		for _, qs := range queries {
			got, st := run(t, src, qs)
			if got != want[qs] {
				t.Errorf("%s:\ngot  %s\nwant %s", qs, got, want[qs])
			}
			if strings.Contains(qs, "diff") && !strings.Contains(qs, "filter") && st.RecordsScanned != float64(len(evs)) {
				t.Errorf("%s: scanned %v of %d", qs, st.RecordsScanned, len(evs))
			}
		}
	}
	onStores(t, evs, len(evs), check)
}
