package logstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScanProjected: a full scan of 1M compacted flow records asking
// for every token column, for the few a query reads (ScanQuery.TokenCols),
// and for MessageBytes alone (the index has it).
func BenchmarkScanProjected(b *testing.B) {
	db, _ := compactedFlowDB(b, 3, 300, 1_000_000)
	defer db.Close()
	for _, c := range []struct {
		name string
		need Columns
		cols map[int][]int
	}{
		{"all", ColTokens | ColIP, nil},
		{"all-noColIP", ColTokens, nil},
		{"cols=2,3,4,9", ColTokens | ColIP, map[int][]int{14: {2, 3, 4, 9}}},
		{"cols=2,9", ColTokens | ColIP, map[int][]int{14: {2, 9}}},
		{"bytes", ColMessageBytes, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			var rows, bytes atomic.Int64
			start := time.Now()
			for it := 0; it < b.N; it++ {
				err := db.Scan(context.Background(), ScanQuery{Group: "flow", Start: MinTime, End: MaxTime, Need: c.need, TokenCols: c.cols}, func(bl *Block) error {
					rows.Add(int64(bl.Len))
					bytes.Add(bl.MessageBytes)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(rows.Load())/el.Seconds(), "rows/s")
			b.ReportMetric(float64(el.Nanoseconds())/float64(rows.Load()), "ns/row")
		})
	}
}
