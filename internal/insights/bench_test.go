package insights

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowgen"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Benchmarks of issue 3's Q1–Q7 over in-memory blocks of `flowgen`
// records (FLOWWATCH_BENCH_RECORDS, default 1,000,000), reporting ns per
// record; 10M-record times are ten times the per-record figure × 1e7.

type benchData struct {
	blocks []*logstore.Block
	n      int
	rare   string // a source address seen in few records
}

var (
	benchOnce [2]sync.Once
	benchSets [2]benchData
)

func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("FLOWWATCH_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// loadBench generates records in the default (kc=false) or the
// knowledge-center 27-field format, timestamped at their start time.
func loadBench(b *testing.B, kc bool) *benchData {
	i := 0
	if kc {
		i = 1
	}
	benchOnce[i].Do(func() {
		f, startCol, srcCol := flowlog.DefaultFormat, 10, 3
		if kc {
			f, startCol, srcCol = flowlog.MustParseFormat(flowlog.KnowledgeCenterFormatString), 14, 5
		}
		g, err := flowgen.New(flowgen.Config{Seed: 42})
		if err != nil {
			b.Fatal(err)
		}
		n := benchRecords()
		var buf bytes.Buffer
		if err := flowgen.WriteText(&buf, g, f, uint64(n), false); err != nil {
			b.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		events := make([]logstore.StoredEvent, len(lines))
		counts := map[string]int{}
		for k, l := range lines {
			toks := strings.Split(l, " ")
			start, _ := strconv.ParseInt(toks[startCol], 10, 64)
			events[k] = logstore.StoredEvent{Stream: toks[startCol-8], Timestamp: start * 1000, IngestionTime: start*1000 + 5000, Seq: uint64(k + 1), Message: l}
			counts[toks[srcCol]]++
		}
		d := &benchSets[i]
		d.blocks, d.n = BlocksOf(events, 8192), len(events)
		for a, c := range counts {
			if c >= 2 && c <= 20 && a != "-" && (d.rare == "" || a < d.rare) {
				d.rare = a
			}
		}
	})
	return &benchSets[i]
}

func runBench(b *testing.B, kc bool, query string) {
	d := loadBench(b, kc)
	q := mustParse(b, strings.ReplaceAll(query, "RARE", d.rare))
	src := &BlockSource{Blocks: d.blocks}
	req := Request{Query: q, Targets: []Target{{Group: "g", Log: "0:g", Source: src}}}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	var rows int
	for range b.N {
		res, err := (&Engine{}).Run(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		rows = len(res.Rows)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	// CPU time per record: on a shared machine the wall clock says more
	// about the neighbours than about the engine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(d.n), "cpu-ns/record")
	if rows == 0 {
		b.Fatal("no rows")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(d.n), "ns/record")
}

const kcParse = `parse @message "* * * * * * * * * * * * * * * * * * * * * * * * * * *" as account_id, vpc_id, subnet_id, interface_id, instance_id, srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status, start, end, flow_direction, traffic_path, tcp_flags, pkt_srcaddr, pkt_src_aws_service, pkt_dstaddr, pkt_dst_aws_service, region, az_id, sublocation_type, sublocation_id`

func BenchmarkQ1TopPairs(b *testing.B) {
	runBench(b, false, `stats sum(bytes) as b by srcaddr, dstaddr | sort b desc | limit 10`)
}

func BenchmarkQ2RejectedSSH(b *testing.B) {
	runBench(b, false, `filter action="REJECT" and protocol=6 and dstport=22 | stats sum(bytes) as b by srcaddr | sort b desc | limit 10`)
}

func BenchmarkQ3BytesPerMinute(b *testing.B) {
	runBench(b, false, `stats sum(bytes) by bin(1m)`)
}

func BenchmarkQ4RareSource(b *testing.B) {
	runBench(b, false, `filter srcaddr = "RARE" | sort start desc | limit 20`)
}

func BenchmarkQ5Count(b *testing.B) {
	runBench(b, false, `stats count(*)`)
}

func BenchmarkQ6DistinctSources(b *testing.B) {
	runBench(b, false, `stats count_distinct(srcaddr)`)
}

func BenchmarkQ7ParseCustom(b *testing.B) {
	runBench(b, true, kcParse+` | stats sum(bytes) by srcaddr, dstaddr, flow_direction`)
}

// storeBench loads the benchmark records (default format, or with kc the
// 27-field one) into a durable store (FLOWWATCH_BENCH_STORE=1), compacted,
// so the Q benchmarks can also run through the store's own Scan:
// projection, decoding and block skipping — the path `flowwatch serve` uses.
var (
	storeOnce [2]sync.Once
	storeDB   [2]*logstore.DB
)

func benchStore(b *testing.B, kc bool) *logstore.DB {
	if os.Getenv("FLOWWATCH_BENCH_STORE") == "" {
		b.Skip("set FLOWWATCH_BENCH_STORE=1 to benchmark through the durable store")
	}
	d := loadBench(b, kc)
	k := 0
	if kc {
		k = 1
	}
	storeOnce[k].Do(func() {
		dir, err := os.MkdirTemp("", "insights-bench")
		if err != nil {
			b.Fatal(err)
		}
		db, err := logstore.Open(logstore.Options{Dir: dir, NoSync: true, MergeParts: -1})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateGroup("vpc", logstore.GroupMeta{}); err != nil {
			b.Fatal(err)
		}
		streams := map[string]bool{}
		for _, blk := range d.blocks {
			byStream := map[string][]logstore.Event{}
			for i := 0; i < blk.Len; i++ {
				s := blk.StreamNames[blk.StreamIdx[i]]
				byStream[s] = append(byStream[s], logstore.Event{Timestamp: blk.Timestamps[i], Message: blk.Messages[i]})
			}
			for s, evs := range byStream {
				if !streams[s] {
					streams[s] = true
					if err := db.CreateStream("vpc", s, 0); err != nil {
						b.Fatal(err)
					}
				}
				if err := db.Import("vpc", s, evs[0].Timestamp, evs); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := db.Compact(); err != nil {
			b.Fatal(err)
		}
		storeDB[k] = db
	})
	return storeDB[k]
}

func runStoreBench(b *testing.B, kc bool, query string) {
	db := benchStore(b, kc)
	d := loadBench(b, kc)
	q := mustParse(b, strings.ReplaceAll(query, "RARE", d.rare))
	req := Request{Query: q, Targets: []Target{{Group: "vpc", Log: "0:vpc", Source: db}}}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for range b.N {
		if _, err := (&Engine{}).Run(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(d.n), "cpu-ns/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(d.n), "ns/record")
}

func BenchmarkStoreQ1(b *testing.B) {
	runStoreBench(b, false, `stats sum(bytes) as b by srcaddr, dstaddr | sort b desc | limit 10`)
}
func BenchmarkStoreQ2(b *testing.B) {
	runStoreBench(b, false, `filter action="REJECT" and protocol=6 and dstport=22 | stats sum(bytes) as b by srcaddr | sort b desc | limit 10`)
}
func BenchmarkStoreQ3(b *testing.B) { runStoreBench(b, false, `stats sum(bytes) by bin(1m)`) }
func BenchmarkStoreQ4(b *testing.B) {
	runStoreBench(b, false, `filter srcaddr = "RARE" | sort start desc | limit 20`)
}
func BenchmarkStoreQ5(b *testing.B) { runStoreBench(b, false, `stats count(*)`) }
func BenchmarkStoreQ6(b *testing.B) { runStoreBench(b, false, `stats count_distinct(srcaddr)`) }
func BenchmarkStoreQ7(b *testing.B) {
	runStoreBench(b, true, kcParse+` | stats sum(bytes) by srcaddr, dstaddr, flow_direction`)
}
