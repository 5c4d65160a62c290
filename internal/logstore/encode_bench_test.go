package logstore

import (
	"github.com/flowwatch/flowwatch/internal/logstore/flowsim"
	"slices"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine it
// says more than wall time about the cost of the code measured.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeBlock: one block of realistic flow rows, tokenised,
// encoded and compressed (the CPU cost of a flush per row).
func BenchmarkEncodeBlock(b *testing.B) {
	sim := flowsim.New(5, 200)
	_, bs := flowBatches(sim, 32768, 1<<20)
	var rows []row
	for _, bt := range bs {
		for i, e := range bt {
			rows = append(rows, row{ts: e.Timestamp, seq: uint64(i), sid: uint64(i % 7), msg: e.Message})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmpUint(a.sid, b.sid) })
	var sc encScratch
	b.ResetTimer()
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		eb := encodeBlock(rows, 14, nil, zstdFast, &sc)
		b.ReportMetric(float64(len(eb.data))/float64(len(rows)), "bytes/row")
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric((cpuTime()-cpu).Seconds()*1e9/float64(b.N*len(rows)), "cpu-ns/row")
}

// BenchmarkMerge: merging four flushed parts of realistic rows into one
// (the per-row cost of background merges and Compact).
func BenchmarkMerge(b *testing.B) {
	sim := flowsim.New(7, 100)
	streams, bs := flowBatches(sim, 400_000, 10_000)
	db, err := Open(Options{Dir: b.TempDir(), NoBackground: true, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	must(b, db.CreateGroup("g", GroupMeta{}))
	for _, e := range sim.ENIs {
		must(b, db.CreateStream("g", e.ID, 0))
	}
	for k, bt := range bs {
		must(b, db.Import("g", streams[k], 1, bt))
		if k%(len(bs)/4) == 0 {
			must(b, db.Flush())
		}
	}
	must(b, db.Flush())
	g := db.groups["g"]
	live := map[uint64]bool{}
	for sid := range g.byID {
		live[sid] = true
	}
	rows := int64(0)
	for _, p := range g.parts {
		rows += p.rows
	}
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		p, err := db.mergeParts(g.id, g.parts, live, true)
		if err != nil {
			b.Fatal(err)
		}
		p.obsolete.Store(true)
		p.unref()
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(rows*int64(b.N)), "cpu-ns/row")
}
