package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/logstore"
	"github.com/flowwatch/flowwatch/internal/logstore/flowsim"
	"github.com/klauspost/compress/gzip"
)

func writeGz(t *testing.T, path, text string) {
	t.Helper()
	importMust(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	importMust(t, err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write([]byte(text))
	importMust(t, err)
	importMust(t, zw.Close())
	importMust(t, f.Close())
}

func importMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
		"2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
		"2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
	}
	header := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	s3 := filepath.Join(dir, "export", "AWSLogs", "123456789010", "vpcflowlogs", "us-east-1", "2014", "12", "14")
	writeGz(t, filepath.Join(s3, "a.log.gz"), header+strings.Join(lines[:3], "\n")+"\n")
	// Plain file without a header, CRLF line ends, no final newline.
	plain := filepath.Join(dir, "plain.log")
	importMust(t, os.WriteFile(plain, []byte(strings.Join(lines[3:], "\r\n")), 0o644))
	// A custom format whose header moves the fields.
	custom := filepath.Join(dir, "custom.txt")
	importMust(t, os.WriteFile(custom, []byte("start interface-id action\n1700000000 eni-custom ACCEPT\nbad line\n"), 0o644))

	data := filepath.Join(dir, "data")
	if code := runImport([]string{"--data-dir", data, "--log-group", "flows", "--quiet", filepath.Join(dir, "export"), plain, custom}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	db, err := logstore.Open(logstore.Options{Dir: data})
	importMust(t, err)
	streams, err := db.Streams("flows")
	importMust(t, err)
	var names []string
	for _, s := range streams {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[eni-11111111aaaaaaaaa eni-1235b8ca123456789 eni-custom]" {
		t.Fatalf("streams %v", names)
	}
	ev, _, err := db.Events(context.Background(), logstore.EventQuery{Group: "flows", Streams: []string{"eni-1235b8ca123456789"}, Start: logstore.MinTime, End: logstore.MaxTime})
	importMust(t, err)
	want := []string{lines[0], lines[1], lines[2], lines[4]}
	if len(ev) != len(want) {
		t.Fatalf("events %v", ev)
	}
	for i, e := range ev {
		if e.Message != want[i] {
			t.Errorf("event %d: %q, want %q", i, e.Message, want[i])
		}
		start := strings.Fields(e.Message)[10]
		if fmt.Sprint(e.Timestamp/1000) != start || e.Timestamp%1000 != 0 {
			t.Errorf("event %d: timestamp %d for start %s", i, e.Timestamp, start)
		}
	}
	ev, _, err = db.Events(context.Background(), logstore.EventQuery{Group: "flows", Streams: []string{"eni-custom"}, Start: logstore.MinTime, End: logstore.MaxTime})
	importMust(t, err)
	if len(ev) != 1 || ev[0].Timestamp != 1700000000000 {
		t.Fatalf("custom format events %v", ev)
	}
	importMust(t, db.Close()) // import takes the data dir's lock

	// Importing into an existing group adds to it.
	if code := runImport([]string{"--data-dir", data + "2", "--log-group", "g", "--quiet", plain}); code != 0 {
		t.Fatal("second import failed")
	}
	// Log groups are per region: another region's group is its own store key
	// (logs.StoreKey), and a name the API refuses (':' would read as a
	// region prefix) is refused here too, before anything is written.
	if code := runImport([]string{"--data-dir", data, "--log-group", "flows", "--region", "eu-west-1", "--quiet", plain}); code != 0 {
		t.Fatal("import into eu-west-1 failed")
	}
	for _, bad := range [][]string{{"--log-group", "eu-west-1:flows"}, {"--log-group", "flows", "--region", "EU/1"}} {
		if code := runImport(append([]string{"--data-dir", data, "--quiet"}, append(bad, plain)...)); code != 2 {
			t.Fatalf("%v: exit %d, want 2", bad, code)
		}
	}
	if code := runImport([]string{"--data-dir", data, "--log-group", "flows"}); code != 2 {
		t.Fatalf("no files: exit %d", code)
	}
	if code := runImport([]string{"--data-dir", data, "--log-group", "flows", filepath.Join(dir, "missing")}); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
	db, err = logstore.Open(logstore.Options{Dir: data})
	importMust(t, err)
	defer db.Close()
	var groups []string
	for _, g := range db.Groups() {
		groups = append(groups, g.Name)
	}
	if fmt.Sprint(groups) != "[eu-west-1:flows flows]" {
		t.Fatalf("groups %v, want the us-east-1 group and eu-west-1's", groups)
	}
	ev, _, err = db.Events(context.Background(), logstore.EventQuery{Group: "eu-west-1:flows", Start: logstore.MinTime, End: logstore.MaxTime})
	importMust(t, err)
	if len(ev) != 2 {
		t.Fatalf("eu-west-1 events %v, want the 2 of plain.log", ev)
	}
}

func TestRecordKey(t *testing.T) {
	s, ts, ok := flowfile.RecordKey("2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA", 2, 10)
	if !ok || s != "eni-1" || ts != 1431280876000 {
		t.Fatal(s, ts, ok)
	}
	if _, _, ok := flowfile.RecordKey("2 1 eni-1 - - - - - - - - 1431280934 - NODATA", 2, 10); ok {
		t.Fatal("'-' start accepted")
	}
	if _, _, ok := flowfile.RecordKey("short line", 2, 10); ok {
		t.Fatal("short line accepted")
	}
	if h := flowfile.HeaderFields("version account-id interface-id"); len(h) != 3 {
		t.Fatal(h)
	}
	if h := flowfile.HeaderFields("2 123 eni-1"); h != nil {
		t.Fatal(h)
	}
}

// BenchmarkImport: `flowwatch import` of gzipped default-format records in
// the S3 layout (FLOWWATCH_BENCH_RECORDS, default 1,000,000), with the
// final compaction; reports records/s and bytes on disk per record.
func BenchmarkImport(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("FLOWWATCH_BENCH_RECORDS"); s != "" {
		fmt.Sscan(s, &n)
	}
	dir := b.TempDir()
	sim := flowsim.New(1, 500)
	// 24 hourly objects, as a day of S3 delivery.
	var buf []byte
	per := (n + 23) / 24
	for h := 0; h < 24 && h*per < n; h++ {
		path := filepath.Join(dir, "src", "AWSLogs", "123456789012", "vpcflowlogs", "us-east-1", "2026", "11", "01", fmt.Sprintf("obj%02d.log.gz", h))
		importMust(b, os.MkdirAll(filepath.Dir(path), 0o755))
		f, err := os.Create(path)
		importMust(b, err)
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		bw := bufio.NewWriterSize(zw, 1<<20)
		bw.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
		for i := h * per; i < min(n, (h+1)*per); i++ {
			_, _, buf = sim.Next(buf)
			bw.Write(buf)
			bw.WriteByte('\n')
		}
		importMust(b, bw.Flush())
		importMust(b, zw.Close())
		importMust(b, f.Close())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := filepath.Join(dir, fmt.Sprint("data", i))
		start, cpu := time.Now(), cpuTime()
		if code := runImport([]string{"--data-dir", data, "--log-group", "flow", "--quiet", "--compact=true", filepath.Join(dir, "src")}); code != 0 {
			b.Fatalf("exit %d", code)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(n), "cpu-ns/record")
		db, err := logstore.Open(logstore.Options{Dir: data})
		importMust(b, err)
		importMust(b, db.Compact())
		importMust(b, db.Close())
		b.ReportMetric(float64(dirBytes(data))/float64(n), "bytes/record")
	}
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// says more than wall time about the cost of the code measured.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
