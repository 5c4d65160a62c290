package logstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// TestConcurrentStress runs writers, readers and metadata changes at once
// with background flushes and merges on tiny memtables, under -race in CI.
// Streams "keep-*" are never deleted: every acknowledged event in them must
// be readable at the end, exactly once, also after a reopen.
func TestConcurrentStress(t *testing.T) {
	mem := vfs.NewMem()
	open := func() *DB {
		db, err := Open(Options{Dir: "/db", FS: mem, MemtableBytes: 16 << 10, BlockRows: 64, MergeParts: 2,
			MaintenanceInterval: time.Millisecond, Logger: quietLogger()})
		must(t, err)
		return db
	}
	db := open()
	must(t, db.CreateGroup("g", GroupMeta{}))
	for i := 0; i < 3; i++ {
		must(t, db.CreateStream("g", fmt.Sprint("keep-", i), 0))
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var acked sync.Map
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				evs := make([]Event, 20)
				for i := range evs {
					evs[i] = Event{Timestamp: int64(b*20 + i), Message: fmt.Sprintf("2 1 eni-%d 10.0.0.%d - %d 443 6 1 40 %d %d ACCEPT OK", w, i, b, b, b+60)}
				}
				if err := db.Append("g", fmt.Sprint("keep-", w), 1, evs); err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					acked.Store(e.Message, true)
				}
				n.Add(int64(len(evs)))
			}
		}()
	}
	// Churn: streams created, written, deleted; tags updated.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprint("tmp-", i)
			err := errors.Join(db.CreateStream("g", name, 0), db.Append("g", name, 1, []Event{{int64(i), "temporary"}}))
			if i%3 == 0 {
				err = errors.Join(err, db.UpdateGroup("g", func(m *GroupMeta) error { m.Tags = map[string]string{"i": fmt.Sprint(i)}; return nil }))
			}
			if err = errors.Join(err, db.DeleteStream("g", name)); err != nil {
				t.Error(err) // not Fatal: this is not the test's goroutine
				return
			}
		}
	}()
	// Readers.
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev, _, err := db.Events(ctx, EventQuery{Group: "g", StreamPrefix: "keep-", Start: MinTime, End: MaxTime, Limit: 500})
				if err != nil {
					t.Error(err)
					return
				}
				for i := 1; i < len(ev); i++ {
					if !ev[i-1].cursor().Less(ev[i].cursor()) {
						t.Errorf("events out of order")
						return
					}
				}
				err = db.Scan(ctx, ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColTokens | ColMessage | ColTimestamps | ColSeq}, func(b *Block) error {
					if len(b.Messages) != b.Len {
						return errors.New("short block")
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	must(t, db.Close())
	db = open()
	defer db.Close()
	ev, _, err := db.Events(ctx, EventQuery{Group: "g", StreamPrefix: "keep-", Start: MinTime, End: MaxTime})
	must(t, err)
	seen := map[string]bool{}
	for _, e := range ev {
		if seen[e.Message] {
			t.Fatalf("duplicate %q", e.Message)
		}
		seen[e.Message] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !seen[k.(string)] {
			missing++
		}
		return true
	})
	if missing > 0 || int64(len(ev)) != n.Load() {
		t.Fatalf("%d acknowledged events missing, %d stored of %d", missing, len(ev), n.Load())
	}
	if all, _, _ := db.Events(ctx, EventQuery{Group: "g", Start: MinTime, End: MaxTime}); len(all) != len(ev) {
		t.Fatalf("deleted streams' events visible: %d vs %d", len(all), len(ev))
	}
	t.Logf("%d events", len(ev))
}
