package logstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testStoreContract runs behaviour every Store must have, whatever its
// implementation. newStore returns a fresh store whose retention clock is
// *now (epoch ms).
func testStoreContract(t *testing.T, newStore func(t *testing.T, now *int64) Store) {
	ctx := context.Background()
	t.Run("metadata", func(t *testing.T) {
		now := int64(1_700_000_000_000)
		s := newStore(t, &now)
		if err := s.CreateGroup("b", GroupMeta{CreationTime: 5, Tags: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateGroup("a", GroupMeta{CreationTime: 6, Class: "STANDARD"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateGroup("a", GroupMeta{}); !errors.Is(err, ErrGroupExists) {
			t.Fatalf("duplicate group: %v", err)
		}
		gs := s.Groups()
		if len(gs) != 2 || gs[0].Name != "a" || gs[1].Name != "b" || gs[1].Tags["k"] != "v" || gs[0].Class != "STANDARD" {
			t.Fatalf("groups: %+v", gs)
		}
		gs[1].Tags["k"] = "changed"
		if g, _ := s.Group("b"); g.Tags["k"] != "v" {
			t.Fatal("Groups leaked its tag map")
		}
		if err := s.UpdateGroup("b", func(m *GroupMeta) error { m.RetentionDays = 7; m.Tags["x"] = "y"; return nil }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := s.UpdateGroup("b", func(m *GroupMeta) error { m.RetentionDays = 1; return boom }); !errors.Is(err, boom) {
			t.Fatalf("update error: %v", err)
		}
		g, err := s.Group("b")
		if err != nil || g.RetentionDays != 7 || g.Tags["x"] != "y" || g.CreationTime != 5 {
			t.Fatalf("group b: %+v %v", g, err)
		}
		if _, err := s.Group("zz"); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		if err := s.CreateStream("zz", "s", 1); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		for _, n := range []string{"s2", "s1", "s10"} {
			if err := s.CreateStream("a", n, 9); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateStream("a", "s1", 9); !errors.Is(err, ErrStreamExists) {
			t.Fatal(err)
		}
		ss, err := s.Streams("a")
		if err != nil || len(ss) != 3 || ss[0].Name != "s1" || ss[1].Name != "s10" || ss[2].Name != "s2" || ss[0].HasEvents || ss[0].CreationTime != 9 {
			t.Fatalf("streams: %+v %v", ss, err)
		}
		if err := s.Append("a", "nope", 1, []Event{{1, "x"}}); !errors.Is(err, ErrStreamNotFound) {
			t.Fatal(err)
		}
		if err := s.Append("nope", "s1", 1, []Event{{1, "x"}}); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		if err := s.Append("a", "s1", 100, []Event{{20, "hello"}, {10, "hi"}}); err != nil {
			t.Fatal(err)
		}
		ss, _ = s.Streams("a")
		st := ss[0]
		if !st.HasEvents || st.FirstEventTimestamp != 10 || st.LastEventTimestamp != 20 || st.LastIngestionTime != 100 || st.StoredBytes != 7 {
			t.Fatalf("stream stats: %+v", st)
		}
		if g, _ := s.Group("a"); g.StoredBytes != 7 {
			t.Fatalf("group stored bytes %d", g.StoredBytes)
		}
		if err := s.DeleteStream("a", "s1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteStream("a", "s1"); !errors.Is(err, ErrStreamNotFound) {
			t.Fatal(err)
		}
		if err := s.CreateStream("a", "s1", 11); err != nil {
			t.Fatal(err)
		}
		ev, _, err := s.Events(ctx, EventQuery{Group: "a", Start: MinTime, End: MaxTime})
		if err != nil || len(ev) != 0 {
			t.Fatalf("deleted stream's events came back: %v %v", ev, err)
		}
		if g, _ := s.Group("a"); g.StoredBytes != 0 {
			t.Fatalf("group stored bytes after delete %d", g.StoredBytes)
		}
		if err := s.DeleteGroup("a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGroup("a"); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		if _, err := s.Streams("a"); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Append("b", "x", 1, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
	})

	t.Run("events", func(t *testing.T) {
		now := int64(1_700_000_000_000)
		s := newStore(t, &now)
		defer s.Close()
		must(t, s.CreateGroup("g", GroupMeta{}))
		must(t, s.CreateStream("g", "a", 0))
		must(t, s.CreateStream("g", "b", 0))
		must(t, s.CreateStream("g", "ab", 0))
		// 30 events: timestamps 0..9 in three streams, some duplicates.
		for i := 0; i < 10; i++ {
			must(t, s.Append("g", "a", 1000, []Event{{int64(i), fmt.Sprintf("a %d", i)}}))
			must(t, s.Append("g", "b", 1001, []Event{{int64(9 - i), fmt.Sprintf("b %d", 9-i)}}))
			must(t, s.Append("g", "ab", 1002, []Event{{int64(i / 2), fmt.Sprintf("ab %d", i/2)}}))
		}
		all, more, err := s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime})
		if err != nil || more || len(all) != 30 {
			t.Fatalf("all: %d %v %v", len(all), more, err)
		}
		for i := 1; i < len(all); i++ {
			if !all[i-1].cursor().Less(all[i].cursor()) {
				t.Fatalf("order at %d: %+v %+v", i, all[i-1], all[i])
			}
		}
		seen := map[uint64]bool{}
		for _, e := range all {
			if seen[e.Seq] {
				t.Fatalf("duplicate seq %d", e.Seq)
			}
			seen[e.Seq] = true
			if !strings.HasPrefix(e.Message, e.Stream+" ") || e.Message != fmt.Sprintf("%s %d", e.Stream, e.Timestamp) {
				t.Fatalf("event %+v", e)
			}
		}
		// Forward paging with cursors visits everything exactly once.
		var got []StoredEvent
		var after *Cursor
		for {
			ev, more, err := s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime, After: after, Limit: 7})
			must(t, err)
			got = append(got, ev...)
			if !more {
				break
			}
			c := ev[len(ev)-1].cursor()
			after = &c
		}
		if fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("forward paging differs:\n%v\n%v", got, all)
		}
		// Backward paging from the end, newest first pages.
		got = nil
		var before *Cursor
		for {
			ev, more, err := s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime, Before: before, Backward: true, Limit: 4})
			must(t, err)
			got = append(append([]StoredEvent{}, ev...), got...)
			if !more {
				break
			}
			c := ev[0].cursor()
			before = &c
		}
		if fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("backward paging differs:\n%v\n%v", got, all)
		}
		// Backward without cursor: the newest Limit, ascending.
		ev, more, _ := s.Events(ctx, EventQuery{Group: "g", Start: 2, End: 8, Backward: true, Limit: 3})
		if !more || len(ev) != 3 || ev[0].Timestamp != 6 || ev[2].Timestamp != 7 || !ev[0].cursor().Less(ev[1].cursor()) {
			t.Fatalf("backward newest: %v %v", ev, more)
		}
		// Streams, prefix, range.
		ev, _, _ = s.Events(ctx, EventQuery{Group: "g", Streams: []string{"a", "b"}, StreamPrefix: "a", Start: 3, End: 5})
		if len(ev) != 2 || ev[0].Message != "a 3" || ev[1].Message != "a 4" {
			t.Fatalf("streams+prefix: %v", ev)
		}
		ev, _, _ = s.Events(ctx, EventQuery{Group: "g", StreamPrefix: "a", Start: 4, End: 5})
		if len(ev) != 3 {
			t.Fatalf("prefix a at 4: %v", ev)
		}
		// Match counts towards Limit; MaxScanned bounds the scan.
		isB := func(m string) bool { return strings.HasPrefix(m, "b ") }
		ev, more, _ = s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime, Match: isB, Limit: 3})
		if len(ev) != 3 || !more || ev[0].Message != "b 0" || ev[2].Message != "b 2" {
			t.Fatalf("match+limit: %v %v", ev, more)
		}
		ev, more, _ = s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime, Match: isB, MaxScanned: 4})
		if len(ev) != 1 || !more {
			t.Fatalf("maxscanned: %v %v", ev, more)
		}
		ev, more, _ = s.Events(ctx, EventQuery{Group: "g", Start: 9, End: MaxTime, MaxScanned: 2})
		if len(ev) != 2 || more {
			t.Fatalf("maxscanned exactly exhausting: %v %v", ev, more)
		}
		if _, _, err := s.Events(ctx, EventQuery{Group: "nope", Start: MinTime, End: MaxTime}); !errors.Is(err, ErrGroupNotFound) {
			t.Fatal(err)
		}
		// Scan sees every row once, with the right columns.
		var mu sync.Mutex
		var rows []string
		must(t, s.Scan(ctx, ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColMessage | ColStream | ColTokens | ColIngestion | ColTimestamps | ColSeq}, func(b *Block) error {
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < b.Len; i++ {
				if b.Tokens == nil || len(b.Tokens) != 2 {
					return fmt.Errorf("no tokens in block")
				}
				name := b.StreamNames[b.StreamIdx[i]]
				msg := b.Tokens[0].String(i) + " " + b.Tokens[1].String(i)
				if msg != b.Messages[i] {
					return fmt.Errorf("tokens %q vs message %q", msg, b.Messages[i])
				}
				rows = append(rows, fmt.Sprintf("%s|%d|%d|%d|%s", name, b.Timestamps[i], b.Seq[i], b.IngestionTime[i], b.Messages[i]))
			}
			return nil
		}))
		var want []string
		for _, e := range all {
			want = append(want, fmt.Sprintf("%s|%d|%d|%d|%s", e.Stream, e.Timestamp, e.Seq, e.IngestionTime, e.Message))
		}
		sort.Strings(rows)
		sort.Strings(want)
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Fatalf("scan rows:\n%v\n%v", rows, want)
		}
		stop := errors.New("stop")
		if err := s.Scan(ctx, ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColTimestamps | ColSeq}, func(*Block) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("scan stop: %v", err)
		}
	})

	t.Run("retention", func(t *testing.T) {
		now := int64(100 * dayMs)
		s := newStore(t, &now)
		defer s.Close()
		must(t, s.CreateGroup("g", GroupMeta{}))
		must(t, s.CreateStream("g", "s", 0))
		for d := int64(0); d < 100; d += 10 {
			must(t, s.Append("g", "s", now, []Event{{d*dayMs + 5, fmt.Sprint("day ", d)}}))
		}
		count := func() int {
			ev, _, err := s.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime})
			must(t, err)
			var n atomic.Int64 // fn runs on several goroutines
			must(t, s.Scan(ctx, ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColTimestamps | ColSeq}, func(b *Block) error {
				n.Add(int64(b.Len))
				return nil
			}))
			if int(n.Load()) != len(ev) {
				t.Fatalf("scan sees %d rows, events %d", n.Load(), len(ev))
			}
			return len(ev)
		}
		if n := count(); n != 10 {
			t.Fatalf("before retention %d", n)
		}
		must(t, s.UpdateGroup("g", func(m *GroupMeta) error { m.RetentionDays = 30; return nil }))
		if n := count(); n != 3 { // days 70, 80, 90
			t.Fatalf("30-day retention keeps %d", n)
		}
		atomic.AddInt64(&now, 15*dayMs) // background purges read the clock
		if n := count(); n != 1 {       // day 90
			t.Fatalf("later keeps %d", n)
		}
		must(t, s.UpdateGroup("g", func(m *GroupMeta) error { m.RetentionDays = 0; return nil }))
		if n := count(); n < 1 {
			t.Fatalf("retention off keeps %d", n)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMemoryContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T, now *int64) Store {
		return NewMemoryClock(func() int64 { return *now })
	})
}
