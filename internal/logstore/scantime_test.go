package logstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// TestScanWithoutTimestamps: a scan that asks for neither ColTimestamps
// nor ColSeq hands over the same rows (counts, message bytes, token
// values, including int columns stored relative to the timestamp) as one
// that asks for them, over ranges that cut blocks and stream filters, in
// the memtable, flushed and merged parts; blocks it does not need to
// filter come without timestamps.
func TestScanWithoutTimestamps(t *testing.T) {
	msgs := projMessages()
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 300 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	must(t, db.CreateStream("g", "t", 0))
	const base = int64(1700000000) * 1000 // near the flow-log start times: relative encoding
	for i, m := range msgs {
		must(t, db.Append("g", []string{"s", "t"}[i%2], 7, []Event{{base + int64(i)*1000, m}}))
	}
	type result struct {
		rows, bytes int64
		toks        []string // every row's tokens, sorted
		noTs        int      // blocks without timestamps
	}
	scan := func(q ScanQuery) result {
		var mu sync.Mutex
		var r result
		must(t, db.Scan(context.Background(), q, func(b *Block) error {
			if err := b.DecodeTokens(); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			r.rows += int64(b.Len)
			r.bytes += b.MessageBytes
			if b.Timestamps == nil {
				r.noTs++
			}
			for i := 0; i < b.Len; i++ {
				if b.Tokens == nil {
					continue
				}
				var sb strings.Builder
				for c := range b.Tokens {
					sb.WriteString(b.Tokens[c].String(i))
					sb.WriteByte(' ')
				}
				r.toks = append(r.toks, sb.String())
			}
			return nil
		}))
		slices.Sort(r.toks)
		return r
	}
	run := func(stage string) {
		ranges := []struct{ start, end int64 }{{MinTime, MaxTime}, {base + 100*1000, base + 1777*1000 + 1}}
		for _, r := range ranges {
			for _, streams := range [][]string{nil, {"t"}} {
				for _, need := range []Columns{0, ColMessageBytes, ColTokens, ColTokens | ColIP} {
					q := ScanQuery{Group: "g", Start: r.start, End: r.end, Streams: streams, Need: need}
					got := scan(q)
					q.Need |= ColTimestamps | ColSeq
					want := scan(q)
					name := fmt.Sprintf("%s range %v streams %v need %b", stage, r, streams, need)
					if got.rows != want.rows || got.rows == 0 {
						t.Errorf("%s: %d rows, want %d", name, got.rows, want.rows)
					}
					if need != 0 && got.bytes != want.bytes {
						t.Errorf("%s: MessageBytes %d, want %d", name, got.bytes, want.bytes)
					}
					if !slices.Equal(got.toks, want.toks) {
						t.Errorf("%s: token values differ", name)
					}
					if want.noTs != 0 {
						t.Errorf("%s: blocks without timestamps though asked for", name)
					}
					if stage != "memtable" && r.start == MinTime && streams == nil && got.noTs == 0 {
						t.Errorf("%s: every block decoded its timestamps", name)
					}
				}
			}
		}
	}
	run("memtable")
	must(t, db.Flush())
	run("flushed")
	must(t, db.Compact())
	run("compacted")
}

// TestScanDictCols: text columns listed in DictCols (and left out by
// TokenCols) arrive skipped with their block's distinct values, which
// hold every value of the rows handed over; other kinds arrive skipped
// without; DecodeTokens decodes both.
func TestScanDictCols(t *testing.T) {
	msgs := projMessages()
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 300 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	for i, m := range msgs {
		must(t, db.Append("g", "s", 7, []Event{{int64(i), m}}))
	}
	must(t, db.Flush())
	for _, r := range []struct{ start, end int64 }{{MinTime, MaxTime}, {100, 1777}} {
		dicts := 0 // blocks with column 2 as a dictionary
		q := ScanQuery{Group: "g", Start: r.start, End: r.end, Need: ColTokens | ColTimestamps | ColIP,
			TokenCols: map[int][]int{14: {9}}, DictCols: map[int][]int{14: {2, 3}}}
		var mu sync.Mutex
		must(t, db.Scan(context.Background(), q, func(b *Block) error {
			mu.Lock()
			defer mu.Unlock()
			if len(b.Tokens) != 14 {
				return nil
			}
			// A store may decode more (here: a block cut by the range,
			// whose message bytes are counted from all its tokens).
			c2, c3 := b.Tokens[2], b.Tokens[3]
			if c2.Kind == KindSkipped {
				if c2.Dict == nil {
					t.Error("text column without its dictionary")
				}
				dicts++
			}
			if err := b.DecodeTokens(); err != nil {
				return err
			}
			if c3.Kind == KindSkipped && b.Tokens[3].Kind != KindString && c3.Dict != nil {
				t.Fatalf("a %v column came with a dictionary", b.Tokens[3].Kind)
			}
			for i := 0; i < b.Len; i++ {
				toks := strings.Fields(msgs[b.Timestamps[i]])
				for c, d := range map[int][]string{2: c2.Dict, 3: c3.Dict} {
					v := b.Tokens[c].String(i)
					if v != toks[c] {
						t.Fatalf("row %d: column %d %q, want %q", i, c, v, toks[c])
					}
					if d != nil && !slices.Contains(d, v) {
						t.Fatalf("row %d: %q not in the dictionary %v", i, v, d)
					}
				}
			}
			return nil
		}))
		if dicts == 0 && r.start == MinTime {
			t.Fatalf("range %v: no block with a dictionary", r)
		}
	}
}
