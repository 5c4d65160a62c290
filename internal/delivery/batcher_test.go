package delivery

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

type recordingSink struct {
	mu      sync.Mutex
	batches [][]flowlog.Record
	fail    bool
}

func (s *recordingSink) Deliver(recs []flowlog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.batches = append(s.batches, recs)
	return nil
}

func (s *recordingSink) count() (batches, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		records += len(b)
	}
	return len(s.batches), records
}

func TestBatcherHandsOverABurstAsOneBatch(t *testing.T) {
	sink := &recordingSink{}
	b := NewBatcher(sink, 50*time.Millisecond, nil)
	r := flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ { // emitted from several capture goroutines
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				rec := r
				b.Emit(&rec)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, recs := sink.count(); n == 1 && recs == 100 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d batches, %d records; want one batch of 100 after the burst", n, recs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Emit copies: changing the caller's record later changes nothing.
	sink.mu.Lock()
	sink.fail = true
	sink.mu.Unlock()
	rec := r
	b.Emit(&rec)
	rec.Packets = 999
	if err := b.Flush(); err == nil {
		t.Fatal("Flush hid the sink's error")
	}
	sink.mu.Lock()
	sink.fail = false
	sink.mu.Unlock()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	n, recs := sink.count()
	if n != 2 || recs != 101 || sink.batches[1][0].Packets != 1 {
		t.Errorf("after a failed and a good flush: %d batches, %d records (%+v)", n, recs, sink.batches[n-1])
	}
}
