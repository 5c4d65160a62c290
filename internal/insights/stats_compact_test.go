package insights

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// The compact aggregation (stats_compact.go) must give exactly what the
// general path gives: random flow logs with many groups (tables grow,
// every partition used), keys of every packing kind (IPv4, IPv6, "-",
// text, ints that do not pack), blocks without token columns mixed in
// (a worker leaves the compact path mid-scan), sums near the int64 limit
// (the overflow guard), on 1, 2 and 4 goroutines.
func TestCompactAggregationAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var evs []logstore.StoredEvent
	addr := func() string {
		switch x := r.IntN(100); {
		case x < 2:
			return "-"
		case x < 4:
			return fmt.Sprintf("2001:db8::%x", r.IntN(50))
		default:
			return fmt.Sprintf("10.%d.%d.%d", r.IntN(2), r.IntN(40), r.IntN(60))
		}
	}
	for i := range 40000 {
		ts := int64(1704067200000 + i*97)
		port := fmt.Sprint(r.IntN(5))
		if r.IntN(200) == 0 {
			port = []string{"-", "4294967296", "007"}[r.IntN(3)]
		}
		bytes := fmt.Sprint(r.IntN(100000))
		if r.IntN(1000) == 0 {
			bytes = "-"
		}
		if i == 31000 || i == 36000 {
			// 2^61+1 twice: past the overflow guard (which then sends
			// the worker to the general path), while every group's sum
			// stays an exact integer (floating-point sums would depend
			// on the order of blocks).
			bytes = "2305843009213693953"
		}
		msg := strings.Join([]string{"2", "123456789012", "eni-1", addr(), addr(), port, "443", "6", "1", bytes,
			fmt.Sprint(ts / 1000), fmt.Sprint(ts/1000 + 60), []string{"ACCEPT", "REJECT", "-"}[r.IntN(3)], "OK"}, " ")
		evs = append(evs, logstore.StoredEvent{Stream: "s", Timestamp: ts, IngestionTime: ts, Seq: uint64(i + 1), Message: msg})
	}
	mixed := BlocksOf(evs, 500)
	for i, blk := range mixed {
		if i%17 == 16 {
			c := *blk
			c.Tokens = nil // a block of text rows: the general path
			mixed[i] = &c
		}
	}
	sources := map[string][]*logstore.Block{"tokens": BlocksOf(evs[:30000], 500), "mixed": mixed}
	queries := []string{
		`stats sum(bytes) as b by srcAddr, dstAddr | sort b desc | limit 20`,
		`stats sum(bytes) as b, count(*) as n by srcAddr, dstAddr`,
		`stats count(*) as n by srcAddr`,
		`stats sum(bytes) as b, sum(srcPort) as p, count(*) as n by srcAddr, dstAddr, action`,
		`stats sum(bytes) as b by srcPort, action`,
		`stats count(*) as n, sum(bytes) as b by srcAddr, action, dstAddr, srcPort`,
		`filter action = "REJECT" | stats sum(bytes) as b by dstAddr | sort b desc | limit 5`,
		`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, nb, st, en, act, ls | stats sum(nb) as b by src, dst, act`,
	}
	defer func() { compactAggregation = true }()
	for name, blocks := range sources {
		for _, qs := range queries {
			var want string
			for _, compact := range []bool{false, true} {
				compactAggregation = compact
				for _, par := range []int{1, 2, 4} {
					res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs),
						Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: blocks, Parallelism: par}}}})
					if err != nil {
						t.Fatal(err)
					}
					got := fmtRows(res.Rows)
					if !strings.Contains(qs, "sort") {
						// The stats order is by key; still, compare as sets too.
						got = fmtRows(sortedRows(res.Rows))
					}
					if len(res.Rows) < 2 {
						t.Fatalf("%s %s: %d rows", name, qs, len(res.Rows))
					}
					if want == "" {
						want = got
					} else if got != want {
						t.Fatalf("%s %s (compact %v, %d goroutines):\ngot\n%.2000s\nwant\n%.2000s", name, qs, compact, par, got, want)
					}
				}
			}
		}
	}
}

// Stats followed by `sort <aggregate> | limit k` emit only the groups that
// can make the top k (preselectTop); with ties at the k-th value, groups
// whose sum is absent (every input "-"), ascending and descending, the
// rows are those of emitting every group.
func TestPreselectSortTopAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var evs []logstore.StoredEvent
	for i := range 6000 {
		ts := int64(1704067200000 + i*1000)
		src := fmt.Sprintf("10.0.%d.%d", r.IntN(8), r.IntN(30))
		bytes := fmt.Sprint(r.IntN(4) * 100)
		if src < "10.0.1" {
			bytes = "-" // these groups have no sum at all
		}
		msg := strings.Join([]string{"2", "123456789012", "eni-1", src, "10.1.0.1", fmt.Sprint(r.IntN(3)), "443", "6", "1", bytes,
			fmt.Sprint(ts / 1000), fmt.Sprint(ts/1000 + 60), []string{"ACCEPT", "REJECT"}[r.IntN(2)], "OK"}, " ")
		evs = append(evs, logstore.StoredEvent{Stream: "s", Timestamp: ts, IngestionTime: ts, Seq: uint64(i + 1), Message: msg})
	}
	blocks := BlocksOf(evs, 700)
	defer func() { preselectSortTop = true }()
	for _, qs := range []string{
		`stats count(*) as n by srcAddr | sort n desc | limit 7`,
		`stats count(*) as n by srcAddr | sort n asc | limit 7`,
		`stats count(*) as n by srcAddr | sort n | limit 1`,
		`stats sum(bytes) as b by srcAddr, srcPort | sort b desc | limit 9`,
		`stats sum(bytes) as b by srcAddr, srcPort | sort b asc | limit 9`,
		`stats sum(bytes) as b, count(*) as n by srcAddr | sort b desc | limit 3 | fields srcAddr, n`,
		`stats avg(bytes) as b by srcAddr | sort b desc | limit 4`,
		`stats sum(bytes) as b by action | sort b desc | limit 5`,
	} {
		var want string
		for _, on := range []bool{false, true} {
			preselectSortTop = on
			res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs),
				Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: blocks, Parallelism: 2}}}})
			if err != nil {
				t.Fatal(err)
			}
			got := fmtRows(res.Rows)
			if len(res.Rows) == 0 {
				t.Fatalf("%s: no rows", qs)
			}
			if !on {
				want = got
			} else if got != want {
				t.Errorf("%s:\npreselected\n%sall\n%s", qs, got, want)
			}
		}
	}
}
