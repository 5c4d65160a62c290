package logstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// projMessages: flow-log rows (14 tokens, some IPv6), other shapes, text.
func projMessages() []string {
	msgs := goldenMessages()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		src := fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(256))
		if i%97 == 0 {
			src = fmt.Sprintf("2001:db8::%x", i)
		}
		msgs = append(msgs, fmt.Sprintf("2 123456789012 eni-%d %s 10.1.0.%d %d %d 6 %d %d %d %d %s OK",
			rng.IntN(5), src, rng.IntN(256), rng.IntN(65536), []int{22, 80, 443}[rng.IntN(3)], 1+rng.IntN(9),
			rng.IntN(100000), 1700000000+i, 1700000060+i, []string{"ACCEPT", "REJECT"}[rng.IntN(2)]))
	}
	return msgs
}

// TestScanTokenColsProjection: a projected scan hands over exactly the
// listed columns of blocks of the listed shapes, the others KindSkipped
// until DecodeTokens, with the same MessageBytes as a full scan, over the
// memtable, flushed parts and merged parts.
func TestScanTokenColsProjection(t *testing.T) {
	msgs := projMessages()
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 300 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	must(t, db.CreateStream("g", "t", 0))
	want := map[int64]string{} // by timestamp
	for i, m := range msgs {
		must(t, db.Append("g", []string{"s", "t"}[i%2], 7, []Event{{int64(i), m}}))
		want[int64(i)] = m
	}
	run := func(stage string) {
		for _, r := range []struct{ start, end int64 }{{MinTime, MaxTime}, {100, 1777}} {
			for _, need := range []Columns{ColTokens | ColMessageIfNoTokens | ColIP, ColTokens, ColMessageIfNoTokens, ColMessageBytes} {
				for _, proj := range []map[int][]int{nil, {14: {3, 9, 12, 40}}, {14: {}, 3: {1}}, {14: nil}} {
					var mu sync.Mutex
					var bytes, wantBytes int64
					rows, skipped := 0, 0
					err := db.Scan(context.Background(), ScanQuery{Group: "g", Start: r.start, End: r.end, Need: need | ColTimestamps | ColSeq, TokenCols: proj}, func(b *Block) error {
						mu.Lock()
						defer mu.Unlock()
						bytes += b.MessageBytes
						rows += b.Len
						for i := 0; i < b.Len; i++ {
							wantBytes += int64(len(want[b.Timestamps[i]]))
						}
						if need&(ColTokens|ColMessageIfNoTokens) == 0 || b.Tokens == nil {
							return nil
						}
						cols, projected := proj[len(b.Tokens)]
						listed := map[int]bool{}
						for _, c := range cols {
							listed[c] = true
						}
						check := func(after bool) {
							for i := 0; i < b.Len; i++ {
								toks, ok := SplitTokens(want[b.Timestamps[i]])
								if !ok || len(toks) != len(b.Tokens) {
									t.Fatalf("%s: row %q in a %d-token block", stage, want[b.Timestamps[i]], len(b.Tokens))
								}
								for c := range b.Tokens {
									col := &b.Tokens[c]
									if col.Kind == KindSkipped {
										if after || !projected || listed[c] {
											t.Fatalf("%s need %b proj %v: column %d of %d skipped (after DecodeTokens: %v)", stage, need, proj, c, len(b.Tokens), after)
										}
										skipped++
										continue
									}
									if got := col.String(i); got != toks[c] {
										t.Fatalf("%s: column %d row %d: %q, want %q", stage, c, i, got, toks[c])
									}
								}
							}
						}
						check(false)
						if err := b.DecodeTokens(); err != nil {
							return err
						}
						check(true)
						return nil
					})
					must(t, err)
					if stage != "memtable" && proj != nil && need&(ColTokens|ColMessageIfNoTokens) != 0 && skipped == 0 {
						t.Errorf("%s need %b proj %v: nothing skipped", stage, need, proj)
					}
					if bytes != wantBytes || rows == 0 {
						t.Errorf("%s range %v need %b proj %v: MessageBytes %d, want %d (%d rows)", stage, r, need, proj, bytes, wantBytes, rows)
					}
				}
			}
		}
	}
	run("memtable")
	must(t, db.Flush())
	run("flushed")
	for _, p := range db.groups["g"].parts {
		for i := range p.blocks {
			if p.blocks[i].msgBytes < 0 {
				t.Fatal("flushed block without msgBytes")
			}
		}
	}
	must(t, db.Compact())
	run("compacted")
	for _, p := range db.groups["g"].parts {
		for i := range p.blocks {
			if p.blocks[i].msgBytes < 0 {
				t.Fatal("merged block without msgBytes")
			}
		}
	}
}

// TestGoldenPartMessageBytes: blocks of format-1 parts have no recorded
// message bytes; scans count them, projected or not.
func TestGoldenPartMessageBytes(t *testing.T) {
	data, err := os.ReadFile("testdata/golden/v1.part")
	must(t, err)
	p := partFromBytes(t, data)
	defer p.unref()
	for i := range p.blocks {
		bi := &p.blocks[i]
		if bi.msgBytes != -1 {
			t.Fatalf("block %d: msgBytes %d in a format-1 part", i, bi.msgBytes)
		}
		full, err := p.readBlock(bi, ColMessage)
		must(t, err)
		var want int64
		for _, m := range full.msgs {
			want += int64(len(m))
		}
		d, err := p.readBlockCols(bi, ColTokens|ColMessageIfNoTokens|ColTimestamps, []int{0}, false)
		must(t, err)
		v := &readView{names: map[uint64]string{}}
		for _, sid := range d.sid {
			v.names[sid] = "s"
		}
		b, err := v.block(p, bi, d, MinTime, MaxTime, ColTokens|ColMessageIfNoTokens)
		must(t, err)
		if b.MessageBytes != want {
			t.Fatalf("block %d: MessageBytes %d, want %d", i, b.MessageBytes, want)
		}
	}
}

// TestScanWithoutStreamIDs: scans that do not ask for ColStream skip
// decoding stream ids only when every stream of a part is selected; a
// deleted stream or a stream filter still drops rows.
func TestScanWithoutStreamIDs(t *testing.T) {
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 50 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	names := []string{"s", "t", "u"}
	for _, s := range names {
		must(t, db.CreateStream("g", s, 0))
	}
	for i := 0; i < 600; i++ {
		must(t, db.Append("g", names[i%3], 1, []Event{{int64(i), fmt.Sprintf("a %d c", i)}}))
	}
	must(t, db.Flush())
	count := func(q ScanQuery) map[int64]bool {
		got := map[int64]bool{}
		var mu sync.Mutex
		must(t, db.Scan(context.Background(), q, func(b *Block) error {
			mu.Lock()
			defer mu.Unlock()
			for _, ts := range b.Timestamps[:b.Len] {
				got[ts] = true
			}
			return nil
		}))
		return got
	}
	check := func(what string, got map[int64]bool, keep func(i int) bool) {
		for i := 0; i < 600; i++ {
			if got[int64(i)] != keep(i) {
				t.Fatalf("%s: row %d returned %v", what, i, got[int64(i)])
			}
		}
	}
	q := ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColTokens | ColTimestamps | ColSeq}
	check("all", count(q), func(int) bool { return true })
	q.Start, q.End = 100, 450
	check("range", count(q), func(i int) bool { return i >= 100 && i < 450 })
	q.Start, q.End = MinTime, MaxTime
	q.Streams = []string{"t"}
	check("stream t", count(q), func(i int) bool { return i%3 == 1 })
	q.Streams = nil
	must(t, db.DeleteStream("g", "u"))
	check("u deleted", count(q), func(i int) bool { return i%3 != 2 })
}
