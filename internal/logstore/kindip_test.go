package logstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// A column of IPv4, IPv6 and "-" is stored as KindIP: messages round-trip
// through flushes and merges, Scan hands it over as KindIP only with ColIP,
// and predicates on present addresses never skip its blocks.
func TestKindIPColumn(t *testing.T) {
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 300 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	addr := func(i int) string {
		switch {
		case i%7 == 0:
			return fmt.Sprintf("2001:db8::%x", i)
		case i%11 == 0:
			return "-"
		case i%13 == 0:
			return "::ffff:10.1.2.3"
		}
		return fmt.Sprintf("10.%d.%d.%d", i%3, i%256, i%100)
	}
	want := map[int64]string{}
	var all []Event
	for round := 0; round < 3; round++ {
		var evs []Event
		for i := round * 300; i < (round+1)*300; i++ {
			m := fmt.Sprintf("x %s %d", addr(i), i)
			if round == 2 && i%50 == 0 {
				// Non-canonical IPv6 text: that block's column stays text.
				m = fmt.Sprintf("x 2001:DB8::%x %d", i, i)
			}
			ts := int64(1000 + i)
			want[ts] = m
			evs = append(evs, Event{Timestamp: ts, Message: m})
		}
		must(t, db.Append("g", "s", 1, evs))
		must(t, db.Flush())
		all = append(all, evs...)
	}
	check := func(stage string) {
		t.Helper()
		got, _, err := db.Events(context.Background(), EventQuery{Group: "g", Start: MinTime, End: MaxTime})
		must(t, err)
		if len(got) != len(all) {
			t.Fatalf("%s: %d events, want %d", stage, len(got), len(all))
		}
		for _, e := range got {
			if e.Message != want[e.Timestamp] {
				t.Fatalf("%s: message %q, want %q", stage, e.Message, want[e.Timestamp])
			}
		}
		for _, need := range []Columns{ColTokens, ColTokens | ColIP} {
			var mu sync.Mutex
			kinds := map[TokenKind]int{}
			err := db.Scan(context.Background(), ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: need | ColTimestamps | ColSeq}, func(b *Block) error {
				mu.Lock()
				defer mu.Unlock()
				kinds[b.Tokens[1].Kind]++
				for i := 0; i < b.Len; i++ {
					m := want[b.Timestamps[i]]
					if got := b.Tokens[0].String(i) + " " + b.Tokens[1].String(i) + " " + b.Tokens[2].String(i); got != m {
						t.Errorf("%s need %b: row %q, want %q", stage, need, got, m)
					}
				}
				return nil
			})
			must(t, err)
			if need&ColIP == 0 && kinds[KindIP] > 0 || need&ColIP != 0 && kinds[KindIP] == 0 {
				t.Errorf("%s need %b: kinds %v", stage, need, kinds)
			}
		}
		for _, v := range []string{"2001:db8::7", "10.2.254.54", "::ffff:10.1.2.3"} {
			var n atomic.Int64
			err := db.Scan(context.Background(), ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColTokens | ColIP | ColTimestamps | ColSeq,
				Preds: []TokenPred{{Count: 3, Col: 1, Op: OpEq, Str: v}}}, func(b *Block) error {
				for i := 0; i < b.Len; i++ {
					if b.Tokens[1].String(i) == v {
						n.Add(1)
					}
				}
				return nil
			})
			must(t, err)
			if n.Load() == 0 {
				t.Errorf("%s: predicate %s skipped the rows holding it", stage, v)
			}
		}
	}
	check("flushed")
	must(t, db.Compact())
	check("merged")
}

func TestParseCanonicalIPv6(t *testing.T) {
	for s, ok := range map[string]bool{"2001:db8::1": true, "::": true, "::1": true, "::ffff:1.2.3.4": true, "fe80::1%eth0": false,
		"2001:DB8::1": false, "2001:db8:0:0::1": false, "2001:0db8::1": false, "1.2.3.4": false, "-": false, "": false, "2001:db8::1:0:0:1": true} {
		if _, got := parseCanonicalIPv6(s); got != ok {
			t.Errorf("parseCanonicalIPv6(%q) = %v, want %v", s, got, ok)
		}
	}
}

// TestKindIPv4OnlyColumn: a KindIP column without IPv6 rows (decoded
// through its joined IPv4 dictionary) round-trips, null rows first, last
// and in runs included, with random addresses from a small pool.
func TestKindIPv4OnlyColumn(t *testing.T) {
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 97 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	want := map[int64]string{}
	var evs []Event
	for i := 0; i < 1000; i++ {
		a := fmt.Sprintf("10.%d.%d.%d", i*7%5, i*13%256, i*31%200)
		if i%9 == 0 || i%97 < 3 || i%97 == 96 {
			a = "-"
		}
		m := fmt.Sprintf("x %s %d", a, i)
		ts := int64(1000 + i)
		want[ts] = m
		evs = append(evs, Event{Timestamp: ts, Message: m})
	}
	must(t, db.Append("g", "s", 1, evs))
	must(t, db.Flush())
	got, _, err := db.Events(context.Background(), EventQuery{Group: "g", Start: MinTime, End: MaxTime})
	must(t, err)
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	for _, e := range got {
		if e.Message != want[e.Timestamp] {
			t.Fatalf("message %q, want %q", e.Message, want[e.Timestamp])
		}
	}
}
