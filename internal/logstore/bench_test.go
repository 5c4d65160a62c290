package logstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flowSim generates realistic default-format (v2) flow log lines: many
// interfaces, Zipf-distributed peers, mostly TCP to a few service ports,
// about 13% REJECT and 1% NODATA, windows of 60 s. It stands in for
// internal/flowgen in this package's benchmarks.
type flowSim struct {
	rng    *rand.Rand
	zipf   *rand.Zipf
	enis   []simENI
	peers  []uint32
	now    int64 // seconds
	perSec int
	n      int
}

type simENI struct {
	id string
	ip uint32
}

func newFlowSim(seed uint64, interfaces int) *flowSim {
	rng := rand.New(rand.NewPCG(seed, 99))
	s := &flowSim{rng: rng, now: 1_793_491_200, perSec: 1000}
	for i := 0; i < interfaces; i++ {
		s.enis = append(s.enis, simENI{id: fmt.Sprintf("eni-%017x", rng.Uint64()>>4), ip: 10<<24 | uint32(rng.IntN(1<<16))<<8 | uint32(1+rng.IntN(250))})
	}
	for i := 0; i < 100_000; i++ {
		if rng.IntN(3) == 0 {
			s.peers = append(s.peers, 10<<24|uint32(rng.IntN(1<<24)))
		} else {
			s.peers = append(s.peers, uint32(rng.Uint32()))
		}
	}
	s.zipf = rand.NewZipf(rng, 1.2, 1, uint64(len(s.peers)-1))
	return s
}

func appendIP(b []byte, ip uint32) []byte {
	for sh := 24; sh >= 0; sh -= 8 {
		b = strconv.AppendUint(b, uint64(ip>>uint(sh)&255), 10)
		if sh > 0 {
			b = append(b, '.')
		}
	}
	return b
}

var servicePorts = []int{443, 443, 443, 80, 22, 53, 123, 3306, 5432, 6379, 8080}

// next returns the interface index, start second and line of one record.
func (s *flowSim) next(buf []byte) (int, int64, []byte) {
	s.n++
	if s.n%s.perSec == 0 {
		s.now++
	}
	rng := s.rng
	ei := int(float64(len(s.enis)) * rng.Float64() * rng.Float64()) // busy interfaces busier
	e := &s.enis[ei]
	start := s.now - s.now%60 - int64(rng.IntN(3))*60
	end := start + 60 + int64(rng.IntN(3))
	b := append(buf[:0], "2 123456789012 "...)
	b = append(b, e.id...)
	if rng.IntN(100) == 0 {
		b = append(b, " - - - - - - - "...)
		b = strconv.AppendInt(b, start, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, end, 10)
		b = append(b, " - NODATA"...)
		return ei, start, b
	}
	peer := s.peers[s.zipf.Uint64()]
	svc := servicePorts[rng.IntN(len(servicePorts))]
	eph := 32768 + rng.IntN(28232)
	proto := 6
	if svc == 53 || svc == 123 {
		proto = 17
	}
	src, dst, sp, dp := e.ip, peer, eph, svc
	if rng.IntN(2) == 0 {
		src, dst, sp, dp = peer, e.ip, svc, eph
	}
	pk := 1 + int(rng.ExpFloat64()*20)
	by := pk * (40 + rng.IntN(1400))
	b = append(b, ' ')
	b = appendIP(b, src)
	b = append(b, ' ')
	b = appendIP(b, dst)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sp), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(dp), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(proto), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(pk), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(by), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, end, 10)
	if rng.IntN(100) < 13 {
		b = append(b, " REJECT OK"...)
	} else {
		b = append(b, " ACCEPT OK"...)
	}
	return ei, start, b
}

// batches returns n events cut into per-interface batches of up to size,
// as a flow log delivery would send them.
func (s *flowSim) batches(n, size int) (streams []string, batches [][]Event) {
	pending := make([][]Event, len(s.enis))
	var buf []byte
	for i := 0; i < n; i++ {
		var ei int
		var start int64
		ei, start, buf = s.next(buf)
		pending[ei] = append(pending[ei], Event{Timestamp: start * 1000, Message: string(buf)})
		if len(pending[ei]) == size {
			streams = append(streams, s.enis[ei].id)
			batches = append(batches, pending[ei])
			pending[ei] = nil
		}
	}
	for ei, p := range pending {
		if len(p) > 0 {
			streams = append(streams, s.enis[ei].id)
			batches = append(batches, p)
		}
	}
	return streams, batches
}

func setupFlowDB(b *testing.B, dir string, sim *flowSim) *DB {
	db, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateGroup("flow", GroupMeta{}); err != nil {
		b.Fatal(err)
	}
	for _, e := range sim.enis {
		if err := db.CreateStream("flow", e.id, 0); err != nil {
			b.Fatal(err)
		}
	}
	return db
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
	sim := newFlowSim(1, 200)
	streams, batches := sim.batches(400_000, 10_000)
	db := setupFlowDB(b, b.TempDir(), sim)
	defer db.Close()
	var next atomic.Int64
	events := atomic.Int64{}
	b.ResetTimer()
	start := time.Now()
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
	b.ReportMetric(float64(events.Load())/time.Since(start).Seconds(), "events/s")
}

// BenchmarkImport: bulk loading (Import, no WAL) then a flush; reports
// records/s, and bytes on disk per record after merging.
func BenchmarkImport(b *testing.B) {
	n := 2_000_000
	if s := os.Getenv("LOGSTORE_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	sim := newFlowSim(2, 500)
	streams, batches := sim.batches(n, 10_000)
	runtime.GC()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		dir := b.TempDir()
		db := setupFlowDB(b, dir, sim)
		start := time.Now()
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
	n := 1_000_000
	sim := newFlowSim(3, 300)
	streams, batches := sim.batches(n, 10_000)
	db := setupFlowDB(b, b.TempDir(), sim)
	defer db.Close()
	for k, batch := range batches {
		if err := db.Import("flow", streams[k], 1, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
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
	sim := newFlowSim(4, 300)
	streams, batches := sim.batches(1_000_000, 10_000)
	db := setupFlowDB(b, b.TempDir(), sim)
	defer db.Close()
	for k, batch := range batches {
		if err := db.Import("flow", streams[k], 1, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		ev, _, err := db.Events(context.Background(), EventQuery{Group: "flow", Streams: []string{streams[it%len(streams)]}, Start: MinTime, End: MaxTime, Limit: 10_000})
		if err != nil || len(ev) == 0 {
			b.Fatal(err, len(ev))
		}
	}
}
