package delivery

import (
	"log/slog"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// Batcher adapts a record-at-a-time source (capture.TableConfig.Emit) to a
// Sink: it copies emitted records and hands them over in one Deliver once
// the source has been quiet for linger, as a table emits a closed window's
// records in one burst. Records are durable only once handed over, so at
// most one linger of closed windows is exposed to a crash; a source that
// knows its window boundaries should call Flush after each.
type Batcher struct {
	sink   Sink
	linger time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	pending []flowlog.Record
	timer   *time.Timer
	closed  bool
	flushMu sync.Mutex // one Deliver at a time keeps batches in order
}

// maxBatch bounds a batch so a long burst is spooled in pieces.
const maxBatch = 50000

// NewBatcher returns a Batcher delivering to sink.
func NewBatcher(sink Sink, linger time.Duration, log *slog.Logger) *Batcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{sink: sink, linger: linger, log: log}
	b.timer = time.AfterFunc(time.Hour, func() {
		if err := b.Flush(); err != nil {
			b.log.Error("handing flow records to delivery failed; retrying", "err", err)
			b.mu.Lock()
			if !b.closed {
				b.timer.Reset(b.linger)
			}
			b.mu.Unlock()
		}
	})
	b.timer.Stop()
	return b
}

// Emit copies r for the next batch. It is safe for concurrent use.
func (b *Batcher) Emit(r *flowlog.Record) {
	b.mu.Lock()
	b.pending = append(b.pending, *r)
	full := len(b.pending) >= maxBatch
	if !b.closed {
		b.timer.Reset(b.linger)
	}
	b.mu.Unlock()
	if full {
		if err := b.Flush(); err != nil {
			b.log.Error("handing flow records to delivery failed; retrying", "err", err)
		}
	}
}

// Flush hands over what has been emitted; on error the records stay for
// the next attempt.
func (b *Batcher) Flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := b.sink.Deliver(batch); err != nil {
		b.mu.Lock()
		b.pending = append(batch, b.pending...)
		b.mu.Unlock()
		return err
	}
	return nil
}

// Close stops the timer and hands over what is left.
func (b *Batcher) Close() error {
	b.mu.Lock()
	b.closed = true
	b.timer.Stop()
	b.mu.Unlock()
	return b.Flush()
}
