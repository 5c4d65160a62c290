package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// BenchmarkIngest measures PutLogEvents through the whole API, client
// included: aws-sdk-go-v2 clients send batches of flow log records to a
// real `flowwatch serve` (durable store) over loopback. One b.N is one
// batch. scripts/bench-ingest.sh runs it.
//
// BENCH_INPUT=FILE takes records from a file (e.g. `flowwatch gen` output)
// instead of the built-in generator; BENCH_CLIENTS sets the concurrency
// (default 4); BENCH_BATCH the most events per batch (default 10,000;
// batches are filled up to PutLogEvents' 1,048,576-byte limit, so ~100-byte
// default-format records make batches of ~8,000).
func BenchmarkIngest(b *testing.B) {
	records := benchRecords(b)
	clients := envInt("BENCH_CLIENTS", 4)
	batches := packBatches(records, envInt("BENCH_BATCH", 10000))

	srv := startServer(b, "")
	ctx := context.Background()
	c := cwl.New(cwl.Options{
		Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RetryMaxAttempts: 1,
		// As sdkClient, with the connection pool sized for the clients.
		HTTPClient: &http.Client{Transport: ownBody{&http.Transport{
			MaxIdleConnsPerHost: clients,
			WriteBufferSize:     256 << 10, // a 1 MB batch in a few writes, not 250
		}}},
	})
	g := aws.String("/bench/flowlogs")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		b.Fatal(err)
	}
	for w := 0; w < clients; w++ {
		if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String(fmt.Sprint("eni-", w))}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var sent atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	// Children so far: the go build of TestMain, not to be counted.
	cpu0 := cpuTime(syscall.RUSAGE_SELF) + cpuTime(syscall.RUSAGE_CHILDREN)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := aws.String(fmt.Sprint("eni-", w))
			events := make([]types.InputLogEvent, 0, 10000)
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				ts := aws.Int64(time.Now().UnixMilli())
				sp := batches[int(n-1)%len(batches)]
				events = events[:0]
				for i := sp.start; i < sp.start+sp.n; i++ {
					events = append(events, types.InputLogEvent{Timestamp: ts, Message: &records[i]})
				}
				out, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: stream, LogEvents: events})
				if err != nil {
					errc <- err
					return
				}
				if out.RejectedLogEventsInfo != nil {
					errc <- fmt.Errorf("events rejected: %+v", out.RejectedLogEventsInfo)
					return
				}
				sent.Add(int64(len(events)))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(sent.Load())/float64(b.N), "events/batch")
	if kb := peakRSSKiB(srv.cmd.Process.Pid); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "server-peak-MiB")
	}
	srv.stop(b)
	// CPU of client and server together (the server is our child, counted
	// once it has exited): on a shared machine this says more than wall
	// time; 2e9/cpu-ns is the rate two idle cores would sustain.
	cpu := cpuTime(syscall.RUSAGE_SELF) + cpuTime(syscall.RUSAGE_CHILDREN) - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent.Load()), "cpu-ns/event")
}

// peakRSSKiB is a process's peak resident set (VmHWM), 0 when unknown.
func peakRSSKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// span is one batch: records[start : start+n].
type span struct{ start, n int }

// packBatches cuts records into consecutive batches of at most maxEvents
// events and at most PutLogEvents' 1,048,576 bytes (Σ message + 26 each).
func packBatches(records []string, maxEvents int) []span {
	var out []span
	cur, size := span{}, 0
	for i, r := range records {
		if cur.n == maxEvents || size+len(r)+26 > 1048576 {
			out = append(out, cur)
			cur, size = span{start: i}, 0
		}
		cur.n++
		size += len(r) + 26
	}
	if cur.n > 0 {
		out = append(out, cur)
	}
	return out
}

func benchRecords(b *testing.B) []string {
	if path := os.Getenv("BENCH_INPUT"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var recs []string
		sc := bufio.NewScanner(f)
		for sc.Scan() && len(recs) < 1_000_000 {
			if sc.Text() != "" {
				recs = append(recs, sc.Text())
			}
		}
		if len(recs) == 0 {
			b.Fatalf("no records in %s", path)
		}
		return recs
	}
	return genFlowRecords(100_000, 1)
}

// genFlowRecords makes deterministic default-format (v2) flow log records:
// a few interfaces, skewed peers, ~13% REJECT, some NODATA.
func genFlowRecords(n int, seed uint64) []string {
	x := seed*0x9E3779B97F4A7C15 + 1
	rnd := func(m uint64) uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % m
	}
	recs := make([]string, n)
	t := uint64(1_700_000_000)
	for i := range recs {
		eni := fmt.Sprintf("eni-%017x", 0xa1b2c3+rnd(8))
		if rnd(100) < 2 {
			recs[i] = fmt.Sprintf("2 123456789012 %s - - - - - - - %d %d - NODATA", eni, t, t+60)
			continue
		}
		peer := rnd(1 + rnd(1000)) // skewed towards small numbers
		action := "ACCEPT"
		if rnd(100) < 13 {
			action = "REJECT"
		}
		ports := []uint64{443, 80, 22, 53, 3306, 8080}
		recs[i] = fmt.Sprintf("2 123456789012 %s 10.0.%d.%d 172.31.%d.%d %d %d 6 %d %d %d %d %s OK",
			eni, rnd(4), 1+rnd(250), peer>>8, peer&255, 1024+rnd(64000), ports[rnd(6)],
			1+rnd(20), 40+rnd(20000), t, t+60, action)
		if i%64 == 0 {
			t++
		}
	}
	return recs
}
