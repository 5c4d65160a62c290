package insights

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// The column-at-a-time group ids (token columns, bin) must group exactly
// as the general path does: the same queries over the same events, once
// with token columns and once from messages only, agree.
func TestFastGroupIDsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addrs := []string{"10.0.0.1", "10.0.0.2", "2001:db8::1", "-", "192.168.1.1", "0.0.0.0", "fe80::2", "7"}
	ints := []string{"0", "1", "22", "-", "4294967295", "4294967296", "99999999999", "007", "x"}
	var evs []logstore.StoredEvent
	for i := range 3000 {
		ts := int64(1704067200000 + i*997)
		// Blocks of one kind per column and mixed ones (blocks of 250 rows).
		a, b := addrs[r.IntN(len(addrs))], addrs[r.IntN(len(addrs))]
		if (i/250)%2 == 0 {
			a, b = fmt.Sprintf("10.1.%d.%d", r.IntN(3), r.IntN(4)), fmt.Sprintf("10.2.0.%d", r.IntN(5))
		}
		port := ints[r.IntN(len(ints))]
		if (i/250)%3 == 0 {
			port = fmt.Sprint(r.IntN(3))
		}
		msg := strings.Join([]string{"2", "123456789012", "eni-1", a, b, port, "443", "6", "1", fmt.Sprint(r.IntN(1000)),
			fmt.Sprint(ts / 1000), fmt.Sprint(ts/1000 + 60), []string{"ACCEPT", "REJECT"}[r.IntN(2)], "OK"}, " ")
		evs = append(evs, logstore.StoredEvent{Stream: "s", Timestamp: ts, IngestionTime: ts, Seq: uint64(i + 1), Message: msg})
	}
	tokens := BlocksOf(evs, 250)
	var texts []*logstore.Block
	for _, blk := range tokens {
		c := *blk
		c.Tokens = nil
		texts = append(texts, &c)
	}
	for _, qs := range []string{
		`stats sum(bytes) as b, count(*) as n by srcAddr, dstAddr`,
		`stats sum(bytes) as b by srcAddr`,
		`stats sum(bytes) as b by srcPort`,
		`stats count(*) as n by srcAddr, dstAddr, srcPort`,
		`stats count(*) as n, sum(bytes) as b by srcAddr, action, dstAddr, srcPort`,
		`stats sum(bytes) as b by bin(1m)`,
		`stats sum(bytes) as b by bin(5m) | sort b desc`,
		`stats sum(srcPort) as s, count_distinct(srcAddr) as d by action`,
		`stats count_distinct(srcAddr) as d`,
	} {
		var want string
		for k, blocks := range [][]*logstore.Block{texts, tokens} {
			res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs),
				Targets: []Target{{Group: "g", Source: &BlockSource{Blocks: blocks, Parallelism: 2}}}})
			if err != nil {
				t.Fatal(err)
			}
			got := fmtRows(sortedRows(res.Rows))
			if k == 0 {
				want = got
			} else if got != want {
				t.Errorf("%s:\ntokens\n%stext\n%s", qs, got, want)
			}
		}
	}
}
