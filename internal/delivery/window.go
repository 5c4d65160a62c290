package delivery

import (
	"sort"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// windowOf is the aggregation window (start, unix seconds) of a flow log
// with the given interval that a record falls in, by its start time.
func windowOf(r *flowlog.Record, interval int64) int64 {
	t := r.Start
	if t < 0 {
		t = r.End
	}
	if t < 0 {
		t = 0
	}
	return t - t%interval
}

// keepForTraffic applies a flow log's TrafficType. NODATA and SKIPDATA
// records say something about the interface, not about a flow, so every
// traffic type keeps them (spec §3.3 recommends this; AWS is unverified).
func keepForTraffic(trafficType string, r *flowlog.Record) bool {
	if r.LogStatus == flowlog.StatusNoData || r.LogStatus == flowlog.StatusSkipData {
		return true
	}
	switch trafficType {
	case "ACCEPT":
		return r.Action == flowlog.ActionAccept
	case "REJECT":
		return r.Action == flowlog.ActionReject
	}
	return true
}

// aggregate folds the records of one aggregation window, completing each
// copy with fill: records that differ only in their counters and times
// (the same flow seen in several shorter capture windows) become one, with
// packets and bytes summed, tcp-flags OR-ed and start/end spanning them.
// An interface with traffic in the window loses its NODATA records, as AWS
// writes NODATA only for a window without traffic. The result is sorted by
// interface and start.
func aggregate(in []*flowlog.Record, fill func(*flowlog.Record)) []flowlog.Record {
	traffic := map[string]bool{}
	for _, r := range in {
		if r.LogStatus == flowlog.StatusOK {
			traffic[r.InterfaceID] = true
		}
	}
	index := make(map[flowlog.Record]int, len(in))
	out := make([]flowlog.Record, 0, len(in))
	for _, rp := range in {
		if rp.LogStatus == flowlog.StatusNoData && traffic[rp.InterfaceID] {
			continue
		}
		r := *rp
		fill(&r)
		k := r
		k.Version, k.Packets, k.Bytes, k.Start, k.End, k.TCPFlags = 0, 0, 0, 0, 0, 0
		j, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, r)
			continue
		}
		o := &out[j]
		o.Packets = addNA(o.Packets, r.Packets)
		o.Bytes = addNA(o.Bytes, r.Bytes)
		switch {
		case o.TCPFlags < 0:
			o.TCPFlags = r.TCPFlags
		case r.TCPFlags >= 0:
			o.TCPFlags |= r.TCPFlags
		}
		if r.Start >= 0 && (o.Start < 0 || r.Start < o.Start) {
			o.Start = r.Start
		}
		if r.End > o.End {
			o.End = r.End
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].InterfaceID != out[b].InterfaceID {
			return out[a].InterfaceID < out[b].InterfaceID
		}
		return out[a].Start < out[b].Start
	})
	return out
}

func addNA(a, b int64) int64 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return a + b
}
