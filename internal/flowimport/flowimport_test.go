package flowimport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/logstore"
	"github.com/klauspost/compress/gzip"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testLines: default-format records mostly in time order, and the lines a
// real file has besides: CRLF ends, blank lines, a record longer than a
// chunk, one with doubled spaces (stored as raw text), one that is no
// record.
func testLines(rng *rand.Rand, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		start := 1_700_000_000 + int64(i)*7 + rng.Int64N(30)
		eni := fmt.Sprintf("eni-%017x", rng.IntN(6))
		line := fmt.Sprintf("2 123456789012 %s 10.0.%d.%d 172.31.0.%d %d 443 6 %d %d %d %d ACCEPT OK",
			eni, rng.IntN(4), rng.IntN(256), rng.IntN(256), 1024+rng.IntN(60000), 1+rng.IntN(50), 40+rng.IntN(9000), start, start+60)
		switch rng.IntN(40) {
		case 0:
			line += "\r"
		case 1:
			out = append(out, "")
		case 2:
			line = fmt.Sprintf("2 123456789012 eni-%s - - - - - - - %d %d - NODATA", strings.Repeat("f", 300), start, start+60)
		case 3:
			line = strings.Replace(line, " 443 ", "  443 ", 1)
		case 4:
			line = "not a record"
		}
		out = append(out, line)
	}
	return out
}

// TestLoad: records read in chunks far smaller than lines (carried over,
// grown) and from gzip load as they are, each once, per stream in time
// and then file order; other lines are counted as skipped.
func TestLoad(t *testing.T) {
	defer func(n int) { chunkBytes = n }(chunkBytes)
	chunkBytes = 97
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	lines := testLines(rng, 1500)
	header := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	plain := filepath.Join(dir, "a.log")
	must(t, os.WriteFile(plain, []byte(header+"\n"+strings.Join(lines[:1000], "\n")+"\n"), 0o644))
	gz := filepath.Join(dir, "b.log.gz")
	f, err := os.Create(gz)
	must(t, err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write([]byte(strings.Join(lines[1000:], "\n"))) // no final newline
	must(t, err)
	must(t, zw.Close())
	must(t, f.Close())

	db, err := logstore.Open(logstore.Options{Dir: filepath.Join(dir, "db"), MergeParts: -1})
	must(t, err)
	defer db.Close()
	model := logstore.NewMemory()
	for _, s := range []logstore.Store{db, model} {
		must(t, s.CreateGroup("g", logstore.GroupMeta{}))
	}
	skipped, records := 0, 0
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		stream, ts, ok := flowfile.RecordKey(l, 2, 10)
		if !ok {
			skipped++
			continue
		}
		records++
		err := model.Append("g", stream, 5, []logstore.Event{{Timestamp: ts, Message: l}})
		if errors.Is(err, logstore.ErrStreamNotFound) {
			must(t, model.CreateStream("g", stream, 5))
			err = model.Append("g", stream, 5, []logstore.Event{{Timestamp: ts, Message: l}})
		}
		must(t, err)
	}
	st, err := Load(db, Options{Group: "g", Ingest: 5, Budget: 64 << 20}, []string{plain, gz})
	must(t, err)
	if st.Skipped != int64(skipped) || st.Records != int64(records) {
		t.Errorf("stats %+v, want %d records, %d skipped", st, records, skipped)
	}
	must(t, db.Compact())
	want, err := model.Streams("g")
	must(t, err)
	got, err := db.Streams("g")
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("streams\n got %v\nwant %v", got, want)
	}
	for _, s := range want {
		q := logstore.EventQuery{Group: "g", Streams: []string{s.Name}, Start: logstore.MinTime, End: logstore.MaxTime}
		we, _, err := model.Events(context.Background(), q)
		must(t, err)
		ge, _, err := db.Events(context.Background(), q)
		must(t, err)
		if len(ge) != len(we) {
			t.Fatalf("stream %s: %d events, want %d", s.Name, len(ge), len(we))
		}
		for i := range we {
			if ge[i].Timestamp != we[i].Timestamp || ge[i].Message != we[i].Message || ge[i].IngestionTime != 5 {
				t.Fatalf("stream %s event %d: %d %q, want %d %q", s.Name, i, ge[i].Timestamp, ge[i].Message, we[i].Timestamp, we[i].Message)
			}
		}
	}

	// A header without the stream field is an error, before any record.
	bad := filepath.Join(dir, "c.log")
	must(t, os.WriteFile(bad, []byte("start action\n1700000000 ACCEPT\n"), 0o644))
	if _, err := Load(db, Options{Group: "g"}, []string{bad}); err == nil || !strings.Contains(err.Error(), "interface-id") {
		t.Fatalf("format without interface-id: %v", err)
	}
}
