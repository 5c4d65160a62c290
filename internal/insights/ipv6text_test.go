package insights

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// gateSource scans its blocks all at once, one goroutine per block started
// together, so that the engine runs them on different workers.
type gateSource struct{ blocks []*logstore.Block }

func (s gateSource) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	start := make(chan struct{})
	for _, b := range s.blocks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := fn(b); err != nil {
				mu.Lock()
				ferr = err
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return ferr
}

// Two spellings of one IPv6 address are two texts, so two groups (Logs
// Insights groups by the field's text; the store keeps only canonical
// IPv6 as KindIP, "2001:DB8::1" stays a dictionary string), whichever
// workers see them, on the general and the compact path, for
// count_distinct and dedup too. "two tables" puts them in blocks whose
// keys pack into different compact tables (text key first or second), so
// that one worker has a table the first worker lacks: its keys, holding
// its own text ids, must still be translated into the first worker's.
func TestIPv6SpellingsAreTwoGroups(t *testing.T) {
	block := func(seq int, pairs ...string) []logstore.StoredEvent {
		var evs []logstore.StoredEvent
		for i := range 3000 {
			p := 2 * (i % (len(pairs) / 2))
			ts := int64(1704067200000 + seq*10000 + i)
			msg := strings.Join([]string{"2", "123456789012", "eni-1", pairs[p], pairs[p+1], "5000", "443", "6", "1",
				strconv.Itoa(10 + i%3), strconv.FormatInt(ts/1000, 10), strconv.FormatInt(ts/1000+60, 10), "ACCEPT", "OK"}, " ")
			evs = append(evs, logstore.StoredEvent{Stream: "s", Timestamp: ts, IngestionTime: ts, Seq: uint64(seq*10000 + i + 1), Message: msg})
		}
		return evs
	}
	twoTables := [][]logstore.StoredEvent{
		block(0, "2001:DB8::1", "10.0.1.1"),
		block(1, "10.0.0.1", "2001:db8::1"),
	}
	oneColumn := [][]logstore.StoredEvent{
		block(0, "2001:DB8::1", "10.0.1.1", "10.0.0.1", "10.0.1.1"),
		block(1, "2001:db8::1", "10.0.1.1", "10.0.0.1", "10.0.1.1"),
	}
	cases := []struct {
		name  string
		sets  [][]logstore.StoredEvent
		query string
		want  string
	}{
		{"two tables", twoTables, `stats count(*) as n, sum(bytes) as b by srcAddr, dstAddr`,
			"srcAddr=10.0.0.1 | dstAddr=2001:db8::1 | n=3000 | b=33000\n" +
				"srcAddr=2001:DB8::1 | dstAddr=10.0.1.1 | n=3000 | b=33000\n"},
		{"one column", oneColumn, `stats count(*) as n by srcAddr, dstAddr`,
			"srcAddr=10.0.0.1 | dstAddr=10.0.1.1 | n=3000\n" +
				"srcAddr=2001:DB8::1 | dstAddr=10.0.1.1 | n=1500\n" +
				"srcAddr=2001:db8::1 | dstAddr=10.0.1.1 | n=1500\n"},
		{"one key", oneColumn, `stats count(*) as n by srcAddr`,
			"srcAddr=10.0.0.1 | n=3000\n" +
				"srcAddr=2001:DB8::1 | n=1500\n" +
				"srcAddr=2001:db8::1 | n=1500\n"},
		{"count_distinct", oneColumn, `stats count_distinct(srcAddr) as d`, "d=3\n"},
		{"count_distinct by", twoTables, `stats count_distinct(srcAddr) as s, count_distinct(dstAddr) as d by action`,
			"action=ACCEPT | s=2 | d=2\n"},
		{"dedup", oneColumn, `fields srcAddr | sort srcAddr | dedup srcAddr`,
			"srcAddr=10.0.0.1\nsrcAddr=2001:DB8::1\nsrcAddr=2001:db8::1\n"},
	}
	defer func() { compactAggregation = true }()
	for _, c := range cases {
		for _, compact := range []bool{false, true} {
			compactAggregation = compact
			var blocks []*logstore.Block
			for _, evs := range c.sets {
				blocks = append(blocks, BlocksOf(evs, len(evs))...)
			}
			sources := map[string]Source{"reference": &BlockSource{Blocks: blocks, Parallelism: 1}}
			mem := logstore.NewMemory()
			if err := mem.CreateGroup("g", logstore.GroupMeta{}); err != nil {
				t.Fatal(err)
			}
			if err := mem.CreateStream("g", "s", 0); err != nil {
				t.Fatal(err)
			}
			for _, set := range c.sets {
				var evs []logstore.Event
				for _, e := range set {
					evs = append(evs, logstore.Event{Timestamp: e.Timestamp, Message: e.Message})
				}
				if err := mem.Append("g", "s", set[0].IngestionTime, evs); err != nil {
					t.Fatal(err)
				}
			}
			sources["memory store"] = mem
			for rep := range 20 {
				sources["workers"] = gateSource{blocks}
				for name, src := range sources {
					if rep > 0 && name != "workers" {
						continue
					}
					res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, c.query), Targets: []Target{{Group: "g", Source: src}}})
					if err != nil {
						t.Fatal(err)
					}
					got := fmtRows(sortedRows(dropPtr(t, res.Rows)))
					if strings.HasPrefix(c.query, "fields") {
						got = fmtRows(dropPtr(t, res.Rows))
					}
					if want := "  " + strings.ReplaceAll(strings.TrimSuffix(c.want, "\n"), "\n", "\n  ") + "\n"; got != want {
						t.Fatalf("%s (%s, compact %v, run %d): %s\ngot\n%swant\n%s", c.name, name, compact, rep, c.query, got, want)
					}
				}
			}
		}
	}
}
