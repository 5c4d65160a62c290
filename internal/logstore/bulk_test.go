package logstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

type bulkRecord struct {
	stream string
	ts     int64
	msg    string
}

// bulkInput makes records mostly in time order (as files are), over four
// hours across midnight, with some out of order, in n batches.
func bulkInput(rng *rand.Rand, records, batches int, ordered bool) [][]bulkRecord {
	out := make([][]bulkRecord, batches)
	base := int64(20_000*dayMs - 2*3600_000)
	span := int64(4 * 3600_000)
	prev := base
	for i := 0; i < records; i++ {
		ts := base + int64(i)*span/int64(records)
		switch {
		case rng.IntN(20) == 0:
			ts = prev // equal timestamps keep input order
		case !ordered && rng.IntN(50) == 0:
			ts = base + rng.Int64N(span) // late or early
		case !ordered:
			ts += rng.Int64N(60_000)
		}
		prev = ts
		msg := strings.NewReplacer("\n", " ", "\r", "").Replace(randMessage(rng))
		b := i * batches / records
		out[b] = append(out[b], bulkRecord{stream: fmt.Sprintf("s%d", rng.IntN(5)), ts: ts, msg: msg})
	}
	return out
}

// loadBulk commits batches from several goroutines, in no particular
// order, as flowimport's workers do.
func loadBulk(t *testing.T, db *DB, ingest int64, budget int, in [][]bulkRecord) int64 {
	t.Helper()
	l, err := db.BeginBulk("g", ingest, budget)
	must(t, err)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, len(in))
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for no := range next {
				b := l.NewBatch(uint64(no))
				for _, r := range in[no] {
					// Lines between records, as in a file.
					b.Text = append(b.Text, "\n"...)
					off := len(b.Text)
					b.Text = append(b.Text, r.msg...)
					shape := -1
					if len(r.msg)%2 == 0 {
						shape = Tokenize(r.msg, nil)
					}
					if err := b.Add(r.stream, r.ts, off, len(r.msg), shape); err != nil {
						errs <- err
					}
				}
				if err := l.Commit(b); err != nil {
					errs <- err
				}
			}
		}()
	}
	for no := range in {
		next <- no
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := l.Finish()
	must(t, err)
	return n
}

func checkBulk(t *testing.T, db *DB, model Store) {
	t.Helper()
	checkPartsSorted(t, db)
	want, err := model.Streams("g")
	must(t, err)
	got, err := db.Streams("g")
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("streams\n got %v\nwant %v", got, want)
	}
	for _, s := range want {
		q := EventQuery{Group: "g", Streams: []string{s.Name}, Start: MinTime, End: MaxTime}
		we, _, err := model.Events(context.Background(), q)
		must(t, err)
		ge, _, err := db.Events(context.Background(), q)
		must(t, err)
		if len(ge) != len(we) {
			t.Fatalf("stream %s: %d events, want %d", s.Name, len(ge), len(we))
		}
		for i := range we {
			if ge[i].Timestamp != we[i].Timestamp || ge[i].Message != we[i].Message || ge[i].IngestionTime != we[i].IngestionTime {
				t.Fatalf("stream %s event %d: %d %q, want %d %q", s.Name, i, ge[i].Timestamp, ge[i].Message, we[i].Timestamp, we[i].Message)
			}
		}
	}
}

// TestBulkLoad: a bulk load stores what Append would, per stream in
// (timestamp, input order); compacts (copying blocks when input is in time
// order); and survives reopening.
func TestBulkLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ordered bool
		budget  int
	}{
		// Batches count as 6 MB (their buffers): a write every ~10.
		{"ordered", true, 64 << 20},
		{"unordered", false, 64 << 20},
		// A write per batch: most hold the newest slice, which is then
		// written too and continued in a new part.
		{"write per batch", true, 64 << 10},
		{"one write", true, 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			fs := vfs.NewMem()
			db := openTestDB(t, fs, nil, nil)
			model := NewMemory()
			const ingest = 42
			for _, s := range []Store{db, model} {
				must(t, s.CreateGroup("g", GroupMeta{CreationTime: 1}))
				must(t, s.CreateStream("g", "s0", ingest))
			}
			in := bulkInput(rng, 3000, 40, tc.ordered)
			for _, b := range in {
				for _, r := range b {
					if _, err := model.Streams("g"); err != nil {
						t.Fatal(err)
					}
					if err := model.Append("g", r.stream, ingest, []Event{{Timestamp: r.ts, Message: r.msg}}); err == ErrStreamNotFound {
						must(t, model.CreateStream("g", r.stream, ingest))
						must(t, model.Append("g", r.stream, ingest, []Event{{Timestamp: r.ts, Message: r.msg}}))
					} else {
						must(t, err)
					}
				}
			}
			if n := loadBulk(t, db, ingest, tc.budget, in); n != 3000 {
				t.Fatalf("loaded %d records", n)
			}
			checkBulk(t, db, model)
			// Input in time order: many writes, appended to one part per
			// day and shape.
			dayShapes := map[[2]int64]bool{}
			for _, b := range in {
				for _, r := range b {
					dayShapes[[2]int64{floorDiv(r.ts, dayMs), int64(shapeOf(r.msg))}] = true
				}
			}
			if parts := len(db.groups["g"].parts); tc.ordered && tc.budget > 1<<20 && parts != len(dayShapes) {
				t.Errorf("%d parts from time-ordered input of %d days and shapes", parts, len(dayShapes))
			}
			must(t, db.Compact())
			checkBulk(t, db, model)
			must(t, db.Close())
			db = openTestDB(t, fs, nil, nil)
			defer db.Close()
			checkBulk(t, db, model)
		})
	}
}

// TestMergeCopiesBlocks: parts of disjoint time slices merge by copying
// their blocks; a part overlapping them is merged row by row, and the
// result reads as the inputs did.
func TestMergeCopiesBlocks(t *testing.T) {
	db := openTestDB(t, vfs.NewMem(), nil, nil)
	defer db.Close()
	model := NewMemory()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []Store{db, model} {
		must(t, s.CreateGroup("g", GroupMeta{}))
		for _, st := range []string{"a", "b", "c"} {
			must(t, s.CreateStream("g", st, 0))
		}
	}
	streams := []string{"a", "b", "c"}
	add := func(from, to int64) {
		for _, st := range streams {
			var evs []Event
			for ts := from; ts < to; ts += 7_001 {
				evs = append(evs, Event{Timestamp: ts, Message: randFlowLine(rng, ts/1000)})
			}
			must(t, db.Import("g", st, 1, evs))
			must(t, model.Append("g", st, 1, evs))
		}
		must(t, db.Flush())
	}
	day := int64(20_100 * dayMs)
	add(day, day+2*bucketMs)
	add(day+2*bucketMs, day+4*bucketMs)
	add(day+6*bucketMs, day+7*bucketMs)
	must(t, db.Compact())
	copied := db.copiedBlocks.Load()
	if copied == 0 {
		t.Fatal("no block copied")
	}
	checkBulk(t, db, model)
	// Overlapping the first slices: those blocks are decoded.
	add(day+bucketMs, day+bucketMs+bucketMs/2)
	must(t, db.Compact())
	checkBulk(t, db, model)
	g := db.groups["g"]
	if len(g.parts) != 1 {
		t.Fatalf("%d parts after Compact", len(g.parts))
	}
	// A deleted stream's rows must go: nothing is copied then.
	before := db.copiedBlocks.Load()
	must(t, db.DeleteStream("g", "b"))
	must(t, model.DeleteStream("g", "b"))
	streams = []string{"a", "c"}
	add(day+8*bucketMs, day+9*bucketMs)
	must(t, db.Compact())
	if db.copiedBlocks.Load() != before {
		t.Fatal("blocks copied from parts with a deleted stream's rows")
	}
	checkBulk(t, db, model)
}

// checkPartsSorted checks the parts' invariant merges rely on: rows in
// (shape, slice, stream, timestamp, seq) order, block after block.
func checkPartsSorted(t *testing.T, db *DB) {
	t.Helper()
	db.mu.RLock()
	defer db.mu.RUnlock()
	for _, g := range db.groupsByID {
		for _, p := range g.parts {
			var prev *mergeKey
			for i := range p.blocks {
				bi := &p.blocks[i]
				d, err := p.readBlock(bi, ColIngestion)
				must(t, err)
				for r := 0; r < d.rows; r++ {
					k := mergeKey{bi.shape, floorDiv(d.ts[r], bucketMs), d.sid[r], d.ts[r], d.seq[r]}
					if prev != nil && !prev.less(&k) {
						t.Fatalf("part %d block %d row %d: %+v after %+v", p.id, i, r, k, *prev)
					}
					prev = &k
				}
			}
		}
	}
}

// TestTokenize: Tokenize agrees with shapeOf, and its token ends with
// splitting on spaces.
func TestTokenize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	msgs := append([]string{}, trickyMessages...)
	for i := 0; i < 2000; i++ {
		msgs = append(msgs, randMessage(rng))
		b := []byte(randFlowLine(rng, 1_700_000_000))
		b[rng.IntN(len(b))] = " \x01\t-"[rng.IntN(4)]
		msgs = append(msgs, string(b))
	}
	for _, m := range msgs {
		for _, k := range []int{0, 3, 14, maxTokens} {
			ends := make([]int32, k)
			sh := Tokenize(m, ends)
			if want := shapeOf(m); sh != want {
				t.Fatalf("Tokenize(%q) = %d, shapeOf %d", m, sh, want)
			}
			if sh == 0 {
				continue
			}
			p := 0
			for c, tok := range strings.Split(m, " ")[:min(sh, k)] {
				p += len(tok)
				if int(ends[c]) != p {
					t.Fatalf("Tokenize(%q): token %d ends at %d, want %d", m, c, ends[c], p)
				}
				p++
			}
		}
	}
}

// TestBulkLoadFailure: a part fsync failing midway stops the load with the
// error; after a crash the store holds whole parts only, each record at
// most once, and nothing it was not given. Input out of order makes parts
// that are finished during the load.
func TestBulkLoadFailure(t *testing.T) {
	for _, failAt := range []int{1, 3, 6} {
		t.Run(fmt.Sprint(failAt), func(t *testing.T) {
			mem := vfs.NewMem()
			var syncs atomic.Int32
			fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
				if op == vfs.OpSync && strings.HasSuffix(name, ".part") && syncs.Add(1) == int32(failAt) {
					return 0, vfs.ErrInjected
				}
				return 0, nil
			})
			db := openTestDB(t, fs, nil, nil)
			must(t, db.CreateGroup("g", GroupMeta{}))
			must(t, db.Flush())
			in := bulkInput(rand.New(rand.NewPCG(5, uint64(failAt))), 3000, 40, false)
			given := map[string]int{}
			for _, b := range in {
				for _, r := range b {
					given[fmt.Sprint(r.stream, r.ts, r.msg)]++
				}
			}
			l, err := db.BeginBulk("g", 1, 64<<10)
			must(t, err)
			var loadErr error
			for no, recs := range in {
				b := l.NewBatch(uint64(no))
				for _, r := range recs {
					off := len(b.Text)
					b.Text = append(b.Text, r.msg...)
					must(t, b.Add(r.stream, r.ts, off, len(r.msg), -1))
				}
				if loadErr = l.Commit(b); loadErr != nil {
					break
				}
			}
			if _, err := l.Finish(); loadErr == nil {
				loadErr = err
			}
			if !errors.Is(loadErr, vfs.ErrInjected) {
				t.Fatalf("load with a failing part fsync: %v", loadErr)
			}
			db.Close()
			db = openTestDB(t, mem.CrashClone(nil), nil, nil)
			defer db.Close()
			checkPartsSorted(t, db)
			streams, err := db.Streams("g")
			must(t, err)
			for _, s := range streams {
				ev, _, err := db.Events(context.Background(), EventQuery{Group: "g", Streams: []string{s.Name}, Start: MinTime, End: MaxTime})
				must(t, err)
				for _, e := range ev {
					k := fmt.Sprint(s.Name, e.Timestamp, e.Message)
					if given[k]--; given[k] < 0 {
						t.Fatalf("record %q stored more often than given", k)
					}
				}
			}
		})
	}
}
