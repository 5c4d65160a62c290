package logstore

import (
	"bufio"
	"context"
	"github.com/flowwatch/flowwatch/internal/logstore/flowsim"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flowBatches cuts n records into per-interface batches of up to size events,
// as a flow log delivery sends them.
func flowBatches(sim *flowsim.Sim, n, size int) (streams []string, out [][]Event) {
	pending := make([][]Event, len(sim.ENIs))
	var buf []byte
	for i := 0; i < n; i++ {
		var ei int
		var start int64
		ei, start, buf = sim.Next(buf)
		pending[ei] = append(pending[ei], Event{Timestamp: start * 1000, Message: string(buf)})
		if len(pending[ei]) == size {
			streams = append(streams, sim.ENIs[ei].ID)
			out = append(out, pending[ei])
			pending[ei] = nil
		}
	}
	for ei, p := range pending {
		if len(p) > 0 {
			streams = append(streams, sim.ENIs[ei].ID)
			out = append(out, p)
		}
	}
	return streams, out
}

// compactedFlowDB is a store in a temporary directory holding n records of
// flowsim.New(seed, interfaces) in group "flow", imported in batches of
// 10,000 and compacted (the data the read benchmarks scan), and the
// stream of each batch.
func compactedFlowDB(b *testing.B, seed uint64, interfaces, n int) (db *DB, streams []string) {
	sim := flowsim.New(seed, interfaces)
	streams, batches := flowBatches(sim, n, 10_000)
	db = setupFlowDB(b, b.TempDir(), sim)
	for k, batch := range batches {
		if err := db.Import("flow", streams[k], 1, batch); err != nil {
			db.Close()
			b.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		db.Close()
		b.Fatal(err)
	}
	return db, streams
}

func setupFlowDB(b *testing.B, dir string, sim *flowsim.Sim) *DB {
	var names []string
	for _, e := range sim.ENIs {
		names = append(names, e.ID)
	}
	return setupStreamsDB(b, dir, names)
}

func setupStreamsDB(b *testing.B, dir string, streams []string) *DB {
	db, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateGroup("flow", GroupMeta{}); err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range streams {
		if seen[s] {
			continue
		}
		seen[s] = true
		if err := db.CreateStream("flow", s, 0); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// fileBatches reads up to n default-format records from a file written by
// `flowwatch gen` (IPv6 peers, more varied than flowsim) and cuts them into
// per-interface batches of up to size events, as flowBatches does.
func fileBatches(b *testing.B, path string, n, size int) (streams []string, out [][]Event) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := map[string][]Event{}
	for i := 0; i < n && sc.Scan(); i++ {
		line := sc.Text()
		fs := strings.Fields(line)
		if len(fs) < 11 || fs[0] == "version" {
			continue
		}
		start, _ := strconv.ParseInt(fs[10], 10, 64)
		pending[fs[2]] = append(pending[fs[2]], Event{Timestamp: start * 1000, Message: line})
		if len(pending[fs[2]]) == size {
			streams, out = append(streams, fs[2]), append(out, pending[fs[2]])
			pending[fs[2]] = nil
		}
	}
	for s, p := range pending {
		if len(p) > 0 {
			streams, out = append(streams, s), append(out, p)
		}
	}
	return streams, out
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// BenchmarkAppend: durable Appends of 10,000-event batches from 4
// concurrent writers (group commit), on the real filesystem.
func BenchmarkAppend(b *testing.B) {
	sim := flowsim.New(1, 50)
	allStreams, all := flowBatches(sim, 1_000_000, 10_000)
	var streams []string
	var batches [][]Event
	for k, bt := range all {
		if len(bt) == 10_000 { // the tails of the interfaces are smaller
			streams, batches = append(streams, allStreams[k]), append(batches, bt)
		}
	}
	db := setupFlowDB(b, b.TempDir(), sim)
	defer db.Close()
	var next atomic.Int64
	events := atomic.Int64{}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				k := i % len(batches)
				if err := db.Append("flow", streams[k], time.Now().UnixMilli(), batches[k]); err != nil {
					b.Error(err)
					return
				}
				events.Add(int64(len(batches[k])))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(events.Load())/el.Seconds(), "events/s")
	// The flushes this ingest caused are part of its cost: wait for them.
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(events.Load()), "cpu-ns/event")
}

// BenchmarkImport: bulk loading (Import, no WAL) then a flush; reports
// records/s, and bytes on disk per record after merging.
// LOGSTORE_BENCH_RECORDS sets the count (2,000,000); LOGSTORE_BENCH_FILE,
// a `flowwatch gen` output, replaces flowsim's records.
func BenchmarkImport(b *testing.B) {
	n := 2_000_000
	if s := os.Getenv("LOGSTORE_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	var streams []string
	var batches [][]Event
	if path := os.Getenv("LOGSTORE_BENCH_FILE"); path != "" {
		streams, batches = fileBatches(b, path, n, 10_000)
		n = 0
		for _, bt := range batches {
			n += len(bt)
		}
	} else {
		streams, batches = flowBatches(flowsim.New(2, 500), n, 10_000)
	}
	runtime.GC()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		dir := b.TempDir()
		db := setupStreamsDB(b, dir, streams)
		start, cpu := time.Now(), cpuTime()
		for k, batch := range batches {
			if err := db.Import("flow", streams[k], 1, batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(float64(n)/el.Seconds(), "records/s")
		b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(n), "cpu-ns/record")
		b.ReportMetric(float64(dirSize(dir))/float64(n), "flushed-bytes/record")
		if err := db.Compact(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(dirSize(dir))/float64(n), "bytes/record")
		db.Close()
	}
}

// BenchmarkScan: every row of a compacted group with token columns, by
// parallel workers.
func BenchmarkScan(b *testing.B) {
	db, _ := compactedFlowDB(b, 3, 300, 1_000_000)
	defer db.Close()
	for _, need := range []struct {
		name string
		c    Columns
	}{{"tokens", ColTokens}, {"messages", ColMessage}} {
		b.Run(need.name, func(b *testing.B) {
			var rows atomic.Int64
			start := time.Now()
			for it := 0; it < b.N; it++ {
				err := db.Scan(context.Background(), ScanQuery{Group: "flow", Start: MinTime, End: MaxTime, Need: need.c}, func(bl *Block) error {
					rows.Add(int64(bl.Len))
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows.Load())/time.Since(start).Seconds(), "rows/s")
		})
	}
}

// BenchmarkGetLogEvents: one page of 10,000 events of one stream, as
// GetLogEvents asks for it.
func BenchmarkGetLogEvents(b *testing.B) {
	db, streams := compactedFlowDB(b, 4, 300, 1_000_000)
	defer db.Close()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		ev, _, err := db.Events(context.Background(), EventQuery{Group: "flow", Streams: []string{streams[it%len(streams)]}, Start: MinTime, End: MaxTime, Limit: 10_000})
		if err != nil || len(ev) == 0 {
			b.Fatal(err, len(ev))
		}
	}
}

// BenchmarkFilterPage: pages of 10,000 events across every stream of a
// group in time order from a cursor mid-way, as FilterLogEvents reads.
func BenchmarkFilterPage(b *testing.B) {
	db, _ := compactedFlowDB(b, 6, 300, 2_000_000)
	defer db.Close()
	all, _, _ := db.Events(context.Background(), EventQuery{Group: "flow", Start: MinTime, End: MaxTime, Limit: 1})
	mid := Cursor{all[0].Timestamp + 1000_000, 0} // about a million events in
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		ev, _, err := db.Events(context.Background(), EventQuery{Group: "flow", Start: MinTime, End: MaxTime, After: &mid, Limit: 10_000})
		if err != nil || len(ev) != 10_000 {
			b.Fatal(err, len(ev))
		}
	}
}
