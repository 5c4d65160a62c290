package insights

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// strictSource behaves like a store that takes ScanQuery at its word: it
// drops the columns Need does not ask for and skips every block that a
// predicate proves has no matching row. Golden queries must give the same
// results through it, which checks projection and pushdown.
type strictSource struct {
	inner   *BlockSource
	skipped int
}

func (s *strictSource) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	return s.inner.Scan(ctx, q, func(b *logstore.Block) error {
		for _, p := range q.Preds {
			if blockCannotMatch(b, p) {
				s.skipped++
				return nil
			}
		}
		c := *b
		if q.Need&logstore.ColMessage == 0 && (q.Need&logstore.ColMessageIfNoTokens == 0 || len(b.Tokens) > 0) {
			c.Messages = nil
		}
		if q.Need&(logstore.ColTokens|logstore.ColMessageIfNoTokens) == 0 {
			c.Tokens = nil
		}
		if q.Need&(logstore.ColMessage|logstore.ColMessageIfNoTokens|logstore.ColTokens|logstore.ColMessageBytes) == 0 {
			c.MessageBytes = 0
		}
		if q.Need&logstore.ColStream == 0 {
			c.StreamIdx, c.StreamNames = nil, nil
		}
		if q.Need&logstore.ColIngestion == 0 {
			c.IngestionTime = nil
		}
		if q.Need&logstore.ColSeq == 0 {
			c.Seq = nil
		}
		// Like the store: timestamps not asked for stay only where rows
		// outside the range are left for the engine to drop.
		if q.Need&logstore.ColTimestamps == 0 && !slices.ContainsFunc(c.Timestamps, func(t int64) bool { return t < q.Start || t >= q.End }) {
			c.Timestamps = nil
		}
		if cols, ok := q.TokenCols[len(c.Tokens)]; ok && q.Need&logstore.ColMessage == 0 {
			full := c.Tokens
			if err := c.Project(cols); err != nil {
				return err
			}
			// Like the store: skipped text columns of DictCols carry
			// their distinct values.
			for _, k := range q.DictCols[len(c.Tokens)] {
				if k < len(full) && c.Tokens[k].Kind == logstore.KindSkipped && full[k].Kind == logstore.KindString {
					c.Tokens[k].Dict = full[k].Dict
				}
			}
		}
		return fn(&c)
	})
}

// blockCannotMatch decides a predicate exactly on a token block of its
// shape, the way a store's min/max and bloom filters may (never on others).
func blockCannotMatch(b *logstore.Block, p logstore.TokenPred) bool {
	if len(b.Tokens) != p.Count {
		return p.RequireShape
	}
	if p.Col < 0 || p.Col >= len(b.Tokens) {
		return false
	}
	col := &b.Tokens[p.Col]
	for i := 0; i < b.Len; i++ {
		var c int
		switch col.Kind {
		case logstore.KindInt:
			if col.Null != nil && col.Null[i] {
				continue
			}
			v, err := strconv.ParseInt(p.Str, 10, 64)
			if err != nil {
				return false
			}
			c = cmpInt(col.Ints[i], v)
		case logstore.KindIPv4:
			if col.Null != nil && col.Null[i] {
				continue
			}
			v, ok := parseCanonicalIPv4(p.Str)
			if !ok {
				return false
			}
			c = cmpInt(int64(col.IPs[i]), int64(v))
		default:
			if p.Op != logstore.OpEq {
				return false
			}
			c = strings.Compare(col.Dict[col.Codes[i]], p.Str)
		}
		switch p.Op {
		case logstore.OpEq:
			if c == 0 {
				return false
			}
		case logstore.OpLt:
			if c < 0 {
				return false
			}
		case logstore.OpLe:
			if c <= 0 {
				return false
			}
		case logstore.OpGt:
			if c > 0 {
				return false
			}
		case logstore.OpGe:
			if c >= 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func mustParse(t testing.TB, s string) *Query {
	t.Helper()
	q, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, q)
	return q
}

func vpcEvents(n int) []logstore.StoredEvent {
	var evs []logstore.StoredEvent
	for i := range n {
		start := int64(1704067200 + i)
		action, port := "ACCEPT", 443
		if i%3 == 0 {
			action, port = "REJECT", 22
		}
		msg := strings.Join([]string{"2", "123456789012", "eni-" + strconv.Itoa(i%4), "10.0.0." + strconv.Itoa(i%7),
			"10.0.1." + strconv.Itoa(i%5), "5000" + strconv.Itoa(i%10), strconv.Itoa(port), "6", strconv.Itoa(i + 1),
			strconv.Itoa(100 * (i + 1)), strconv.FormatInt(start, 10), strconv.FormatInt(start+60, 10), action, "OK"}, " ")
		evs = append(evs, logstore.StoredEvent{Stream: "eni-all", Timestamp: start * 1000, IngestionTime: start*1000 + 1, Seq: uint64(i + 1), Message: msg})
	}
	return evs
}

func TestExplainPushdown(t *testing.T) {
	p := Explain(mustParse(t, `filter action="REJECT" and protocol=6 and dstport=22 and bytes > 100 and srcaddr != "1.2.3.4" | stats sum(bytes) as b by srcaddr`))
	if p.Need&logstore.ColTokens == 0 {
		t.Errorf("discovered fields need token columns: %b", p.Need)
	}
	want := []logstore.TokenPred{
		{Count: 14, Col: 12, Op: logstore.OpEq, Str: "REJECT"},
		{Count: 14, Col: 7, Op: logstore.OpEq, Str: "6"},
		{Count: 14, Col: 6, Op: logstore.OpEq, Str: "22"},
		{Count: 14, Col: 9, Op: logstore.OpGt, Str: "100"},
	}
	if len(p.Preds) != len(want) {
		t.Fatalf("preds %+v, want %+v", p.Preds, want)
	}
	for i := range want {
		if p.Preds[i] != want[i] {
			t.Errorf("pred %d = %+v, want %+v", i, p.Preds[i], want[i])
		}
	}
	// A filter after a stats, or an or, is not pushed down.
	if p := Explain(mustParse(t, `filter action="REJECT" or dstport=22`)); len(p.Preds) != 0 {
		t.Errorf("or pushed down: %+v", p.Preds)
	}
	if p := Explain(mustParse(t, `stats count(*) as n by dstport | filter dstport = 22`)); len(p.Preds) != 0 {
		t.Errorf("post-stats filter pushed down: %+v", p.Preds)
	}
	// The knowledge-center parse maps to token columns; the last alias
	// (which takes the rest of a longer line) is not pushed.
	q := mustParse(t, kcParse+` | filter dstport = 22 and sublocation_id = "x" | stats count(*)`)
	p = Explain(q)
	if !p.TokenParse || len(p.Preds) != 1 || p.Preds[0] != (logstore.TokenPred{Count: 27, Col: 8, Op: logstore.OpEq, Str: "22"}) {
		t.Errorf("kc plan = %+v", p)
	}
	if p := Explain(mustParse(t, `stats count(*)`)); p.Need != logstore.ColMessageBytes {
		t.Errorf("count(*) needs no columns but the bytes, got %b", p.Need)
	}
	// Timestamps and seq only where something reads them.
	for q, want := range map[string]logstore.Columns{
		`stats sum(bytes) by srcaddr`:                 0,
		`stats count(*) by bin(1m)`:                   logstore.ColTimestamps,
		`filter @timestamp > 5 | stats count(*)`:      logstore.ColTimestamps,
		`stats latest(srcaddr)`:                       logstore.ColTimestamps | logstore.ColSeq,
		`fields @ptr | stats count(*) by @ptr`:        logstore.ColTimestamps | logstore.ColSeq,
		`filter bytes > 5`:                            logstore.ColTimestamps | logstore.ColSeq,
		`sort bytes | limit 3 | stats count(*)`:       logstore.ColTimestamps | logstore.ColSeq,
		`stats count(*) as n by srcaddr | sort n`:     0,
		`dedup srcaddr | limit 4`:                     logstore.ColTimestamps | logstore.ColSeq,
		`parse @message "* *" as a, b | stats max(a)`: 0,
	} {
		if got := Explain(mustParse(t, q)).Need & (logstore.ColTimestamps | logstore.ColSeq); got != want {
			t.Errorf("%s: time columns %b, want %b", q, got, want)
		}
	}
}

func TestStatisticsAndBytes(t *testing.T) {
	evs := vpcEvents(100)
	var total int
	for _, e := range evs {
		total += len(e.Message)
	}
	// bytesScanned comes from messages or, when the store sends only
	// tokens, from the token texts; count(*), which reads no column, asks
	// for ColMessageBytes (the store has them in its block index).
	for _, c := range []struct {
		src   Source
		query string
		bytes int
	}{
		{&BlockSource{Blocks: BlocksOf(evs, 16)}, `stats count(*)`, total},
		{&strictSource{inner: &BlockSource{Blocks: BlocksOf(evs, 16)}}, `stats sum(bytes)`, total},
		{&strictSource{inner: &BlockSource{Blocks: BlocksOf(evs, 16)}}, `stats count(*)`, total},
	} {
		res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, c.query), Targets: []Target{{Group: "g", Source: c.src}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Statistics.RecordsScanned != 100 || res.Statistics.RecordsMatched != 100 || res.Statistics.BytesScanned != float64(c.bytes) {
			t.Errorf("%s: statistics %+v, want 100/100/%d", c.query, res.Statistics, c.bytes)
		}
	}
	// Pushdown skips blocks; results agree with a full scan.
	q := mustParse(t, `filter dstPort = 22 and bytes > 5000 | stats sum(bytes) as b, count(*) as n`)
	full, err := (&Engine{}).Run(context.Background(), Request{Query: q, Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: BlocksOf(evs, 10)}}}})
	if err != nil {
		t.Fatal(err)
	}
	ss := &strictSource{inner: &BlockSource{Blocks: BlocksOf(evs, 10), Parallelism: 1}}
	pushed, err := (&Engine{}).Run(context.Background(), Request{Query: q, Targets: []Target{{Group: "g", Source: ss}}})
	if err != nil {
		t.Fatal(err)
	}
	if fmtRows(full.Rows) != fmtRows(pushed.Rows) || ss.skipped == 0 {
		t.Errorf("pushdown changed results or skipped nothing (%d): %v vs %v", ss.skipped, full.Rows, pushed.Rows)
	}
	// rows 50..99 with port 22: i%3==0 and bytes=100(i+1) > 5000 → i ≥ 50.
	want := 0
	n := 0
	for i := 50; i < 100; i++ {
		if i%3 == 0 {
			want += 100 * (i + 1)
			n++
		}
	}
	if got := fmtRows(full.Rows); got != "  b="+strconv.Itoa(want)+" | n="+strconv.Itoa(n)+"\n" {
		t.Errorf("got %q", got)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Engine{}).Run(ctx, Request{Query: mustParse(t, `stats count(*)`), Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: BlocksOf(vpcEvents(50), 5)}}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestMultipleTargets(t *testing.T) {
	a := &BlockSource{Blocks: BlocksOf(vpcEvents(10), 4)}
	b := &BlockSource{Blocks: BlocksOf(vpcEvents(5), 4)}
	res, err := (&Engine{}).Run(context.Background(), Request{
		Query:   mustParse(t, `stats count(*) as n by @log | sort n desc`),
		Targets: []Target{{Group: "a", Log: "1:a", Source: a}, {Group: "b", Log: "1:b", Source: b}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtRows(res.Rows); got != "  @log=1:a | n=10\n  @log=1:b | n=5\n" {
		t.Errorf("got %q", got)
	}
	// @ptr names the group and event.
	res, err = (&Engine{}).Run(context.Background(), Request{
		Query:   mustParse(t, `fields @timestamp | limit 1`),
		Targets: []Target{{Group: "a", Log: "1:a", Source: a}, {Group: "b", Log: "1:b", Source: b}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g, ts, seq, err := DecodePtr(res.Rows[0][1].Value)
	if err != nil || g != "a" || ts != (1704067200+9)*1000 || seq != 10 {
		t.Errorf("ptr = %q %d %d %v", g, ts, seq, err)
	}
}

func TestPtrRoundTrip(t *testing.T) {
	for _, c := range []struct {
		g   string
		ts  int64
		seq uint64
	}{{"", 0, 0}, {"/aws/vpc/flow-logs", 1704067200123, 1 << 40}, {"x", -5, 7}} {
		g, ts, seq, err := DecodePtr(EncodePtr(c.g, c.ts, c.seq))
		if err != nil || g != c.g || ts != c.ts || seq != c.seq {
			t.Errorf("%+v -> %q %d %d %v", c, g, ts, seq, err)
		}
	}
	for _, bad := range []string{"", "!!", "AAAAAAAAAAAAAAAAAAAA"} {
		if _, _, _, err := DecodePtr(bad); err == nil {
			t.Errorf("DecodePtr(%q) accepted", bad)
		}
	}
}

func TestProgressAndNow(t *testing.T) {
	var calls int
	q := mustParse(t, `fields now() as n | limit 1`)
	res, err := (&Engine{}).Run(context.Background(), Request{Query: q, Now: time.Unix(1234, 0),
		Targets:  []Target{{Group: "g", Source: &BlockSource{Blocks: BlocksOf(vpcEvents(3), 1)}}},
		Progress: func(Statistics) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows[0][0] != (ResultField{"n", "1234"}) {
		t.Errorf("now() = %v", res.Rows[0])
	}
	_ = calls // progress is rate-limited; calling it is optional on short scans
}

func TestDiscoverFields(t *testing.T) {
	evs := vpcEvents(30)
	evs = append(evs,
		logstore.StoredEvent{Timestamp: 1, Seq: 100, Message: `{"a":{"b":1},"c":[true],"@x":"y"}`},
		logstore.StoredEvent{Timestamp: 2, Seq: 101, Message: `plain text`})
	for _, size := range []int{4, 100} {
		got, err := DiscoverFields(context.Background(), &BlockSource{Blocks: BlocksOf(evs, size)}, "g", 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"@timestamp": 100, "@message": 100, "@logStream": 100, "@log": 100, "@ingestionTime": 100,
			"a.b": 3, "c.0": 3, "@@x": 3}
		for _, f := range VPCFieldNames {
			want[f] = 94 // 30 of 32 events
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: got %v", size, got)
		}
		for _, f := range got {
			if want[f.Name] != f.Percent {
				t.Errorf("size %d: %s = %d%%, want %d%%", size, f.Name, f.Percent, want[f.Name])
			}
		}
	}
	// Sampling stops early.
	got, err := DiscoverFields(context.Background(), &BlockSource{Blocks: BlocksOf(evs, 4), Parallelism: 1}, "g", 0, 0, 5)
	if err != nil || len(got) == 0 {
		t.Fatalf("sampled: %v %v", got, err)
	}
}

// TestParallelMerge merges many groups from two workers and checks the
// result against one worker and a direct count.
func TestParallelMerge(t *testing.T) {
	const n, keys = 40000, 20000
	evs := make([]logstore.StoredEvent, n)
	sums := map[int]int{}
	for i := range evs {
		k := (i * 7919) % keys
		evs[i] = logstore.StoredEvent{Timestamp: int64(i), Seq: uint64(i + 1), Message: "k=" + strconv.Itoa(k) + " v=" + strconv.Itoa(i) + " t=" + []string{"x", "y"}[k%2]}
		sums[k] += i
	}
	queries := []string{
		`parse "k=* v=* t=*" as k, v, t | stats sum(v) as s, count(*) as n by k, t | sort s desc | limit 3`,
		`parse "k=* v=* t=*" as k, v, t | stats sum(v) as s by k | stats count(*) as groups, sum(s) as total`,
		`parse "k=* v=* t=*" as k, v, t | stats count(*) as n, avg(v) as a, count_distinct(v) as d by t | sort t`,
		`parse "k=* v=* t=*" as k, v, t | stats max(v) as m by k | limit 2`,
	}
	for _, qs := range queries {
		var out [2]string
		for i, par := range []int{1, 2} {
			res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs),
				Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: BlocksOf(evs, 1000), Parallelism: par}}}})
			if err != nil {
				t.Fatal(err)
			}
			out[i] = fmtRows(res.Rows)
		}
		if out[0] != out[1] {
			t.Errorf("%s:\none worker:\n%stwo workers:\n%s", qs, out[0], out[1])
		}
	}
	total := 0
	for _, s := range sums {
		total += s
	}
	res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, queries[1]),
		Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: BlocksOf(evs, 1000), Parallelism: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmtRows(res.Rows), "  groups="+strconv.Itoa(len(sums))+" | total="+strconv.Itoa(total)+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecLen(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 99, 100, 255, 999999, 1e18 - 1, 1e18, math.MaxInt64, math.MinInt64, -1, -10, -99, -100} {
		if got, want := decLen(v), len(strconv.FormatInt(v, 10)); got != want {
			t.Errorf("decLen(%d) = %d, want %d", v, got, want)
		}
	}
	for v := int64(-2000); v < 2000; v++ {
		if got, want := decLen(v), len(strconv.FormatInt(v, 10)); got != want {
			t.Fatalf("decLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// Bytes scanned from token columns must equal Σ len(message).
func TestBlockBytesFromTokens(t *testing.T) {
	evs := vpcEvents(300)
	evs[4].Message = strings.Replace(evs[4].Message, " 6 ", " - ", 1)
	for _, blk := range BlocksOf(evs, 100) {
		sel := make([]int32, 0, blk.Len)
		for i := 0; i < blk.Len; i += 2 {
			sel = append(sel, int32(i))
		}
		want := blockBytes(blk, sel)
		c := *blk
		c.Messages = nil
		if got := blockBytes(&c, sel); got != want || len(c.Tokens) == 0 {
			t.Errorf("bytes from tokens %d, from messages %d", got, want)
		}
	}
}
