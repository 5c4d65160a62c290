package logstore

import (
	"context"
	"strings"
)

const dayMs = 86400000

// retentionCutoff is the oldest Timestamp still readable under days of
// retention at now (epoch ms); MinTime when the group never expires.
func retentionCutoff(days int, now int64) int64 {
	if days <= 0 {
		return MinTime
	}
	return now - int64(days)*dayMs
}

// streamFilter answers whether a stream name is selected by a query's
// Streams/StreamPrefix pair.
type streamFilter struct {
	set    map[string]bool // nil: every stream
	prefix string
}

func newStreamFilter(streams []string, prefix string) streamFilter {
	f := streamFilter{prefix: prefix}
	if streams != nil {
		f.set = make(map[string]bool, len(streams))
		for _, s := range streams {
			f.set[s] = true
		}
	}
	return f
}

func (f streamFilter) ok(name string) bool {
	if f.set != nil && !f.set[name] {
		return false
	}
	return strings.HasPrefix(name, f.prefix)
}

// eventIter yields candidate events in the direction of reading: ascending
// (Timestamp, Seq) forward, descending backward. Candidates already satisfy
// the range, stream, cursor and retention restrictions; Match and the limits
// are applied by page.
type eventIter interface {
	next() (StoredEvent, bool, error)
}

// bounds turns an EventQuery's range and cursors into an inclusive cursor
// interval [lo, hi] and the reading direction.
func (q *EventQuery) bounds(cutoff int64) (lo, hi Cursor, backward, empty bool) {
	start := q.Start
	if cutoff > start {
		start = cutoff
	}
	if q.End <= start {
		return lo, hi, false, true
	}
	lo = Cursor{start, 0}
	hi = Cursor{q.End - 1, ^uint64(0)}
	if q.After != nil {
		a := *q.After
		if a.Seq == ^uint64(0) {
			if a.Timestamp == MaxTime {
				return lo, hi, false, true
			}
			a = Cursor{a.Timestamp + 1, 0}
		} else {
			a.Seq++
		}
		if lo.Less(a) {
			lo = a
		}
	}
	if q.Before != nil {
		b := *q.Before
		if b.Seq == 0 {
			if b.Timestamp == MinTime {
				return lo, hi, false, true
			}
			b = Cursor{b.Timestamp - 1, ^uint64(0)}
		} else {
			b.Seq--
		}
		if b.Less(hi) {
			hi = b
		}
	}
	backward = q.Backward || (q.Before != nil && q.After == nil)
	return lo, hi, backward, hi.Less(lo)
}

// page applies Match, Limit and MaxScanned to candidates from it, and
// returns the kept events in ascending order. more is true when the
// reading stopped with candidates left unexamined.
func page(ctx context.Context, it eventIter, q *EventQuery, backward bool) ([]StoredEvent, bool, error) {
	var out []StoredEvent
	scanned := 0
	more := false
	for {
		if q.Limit > 0 && len(out) >= q.Limit || q.MaxScanned > 0 && scanned >= q.MaxScanned {
			_, ok, err := it.next()
			if err != nil {
				return nil, false, err
			}
			more = ok
			break
		}
		if scanned&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, false, err
			}
		}
		e, ok, err := it.next()
		if err != nil {
			return nil, false, err
		}
		if !ok {
			break
		}
		scanned++
		if q.Match == nil || q.Match(e.Message) {
			out = append(out, e)
		}
	}
	if backward {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}
