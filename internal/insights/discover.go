package insights

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// FieldStat is a field of a log group and the share of sampled events
// that have it, as GetLogGroupFields reports them.
type FieldStat struct {
	Name    string
	Percent int
}

var errSampled = errors.New("insights: sample complete")

// DiscoverFields samples up to maxEvents events (0: 10,000) of a group in
// [start, end] (epoch ms, inclusive; 0, 0: all) and returns the system
// fields and the fields Insights discovers in them: the 14 default-format
// flow-log fields and flattened JSON keys. Hidden aliases (startTime,
// srcaddr, …) are not listed.
func DiscoverFields(ctx context.Context, src Source, group string, start, end int64, maxEvents int) ([]FieldStat, error) {
	if maxEvents <= 0 {
		maxEvents = 10000
	}
	q := logstore.ScanQuery{Group: group, Start: start, End: end + 1, Need: logstore.ColMessage | logstore.ColTokens | logstore.ColTimestamps}
	if start == 0 && end == 0 {
		q.Start, q.End = logstore.MinTime, logstore.MaxTime
	}
	var (
		mu     sync.Mutex
		total  int
		counts = map[string]int{}
	)
	err := src.Scan(ctx, q, func(b *logstore.Block) error {
		local := map[string]int{}
		n := 0
		vpc := isVPCBlock(b)
		flat := map[string]Value{}
		for i := 0; i < b.Len; i++ {
			if t := b.Timestamps[i]; t < q.Start || t >= q.End {
				continue
			}
			n++
			if vpc {
				continue
			}
			msg := messageAt(b, i)
			if len(msg) > 0 && msg[0] == '{' {
				var x any
				d := json.NewDecoder(strings.NewReader(msg))
				d.UseNumber()
				if d.Decode(&x) == nil {
					clear(flat)
					flattenJSON("", x, flat)
					for k := range flat {
						local[k]++
					}
				}
				continue
			}
			if t, ok := logstore.SplitTokens(msg); ok && isVPCTokens(t) {
				for _, f := range VPCFieldNames {
					local[f]++
				}
			}
		}
		if vpc {
			for _, f := range VPCFieldNames {
				local[f] += n
			}
		}
		mu.Lock()
		defer mu.Unlock()
		total += n
		for k, c := range local {
			counts[k] += c
		}
		if total >= maxEvents {
			return errSampled
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampled) {
		return nil, err
	}
	var out []FieldStat
	if total == 0 {
		return out, nil
	}
	for _, f := range []string{"@ingestionTime", "@log", "@logStream", "@message", "@timestamp"} {
		out = append(out, FieldStat{f, 100})
	}
	var disc []FieldStat
	for k, c := range counts {
		p := (c*100 + total/2) / total
		if p == 0 {
			p = 1
		}
		disc = append(disc, FieldStat{k, p})
	}
	slices.SortFunc(disc, func(a, b FieldStat) int {
		if a.Percent != b.Percent {
			return b.Percent - a.Percent
		}
		return strings.Compare(a.Name, b.Name)
	})
	return append(out, disc...), nil
}
