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
