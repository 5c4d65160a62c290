package logstore

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func goldenMessages() []string {
	msgs := slices.Clone(trickyMessages)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		msgs = append(msgs, randMessage(rng))
	}
	return msgs
}

// TestGoldenRoundTrip: every message comes back byte for byte through the
// memtable, a flushed part, a merged part and a reopen, by Events and by
// Scan (messages and token columns).
func TestGoldenRoundTrip(t *testing.T) {
	msgs := goldenMessages()
	mem := vfs.NewMem()
	db := openTestDB(t, mem, nil, func(o *Options) { o.BlockRows = 37 })
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	check := func(stage string) {
		t.Helper()
		got := allMessages(t, db, "g")
		if !slices.Equal(got, msgs) {
			for i := range min(len(got), len(msgs)) {
				if got[i] != msgs[i] {
					t.Fatalf("%s: message %d: got %q want %q", stage, i, got[i], msgs[i])
				}
			}
			t.Fatalf("%s: %d messages, want %d", stage, len(got), len(msgs))
		}
		rows, err := scanRows(db, ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Need: ColMessage | ColStream | ColIngestion | ColTokens | ColTimestamps | ColSeq})
		must(t, err)
		if len(rows) != len(msgs) {
			t.Fatalf("%s: scan rows %d", stage, len(rows))
		}
	}
	for i, m := range msgs {
		// Half the events share a timestamp so order falls to Seq.
		must(t, db.Append("g", "s", 7, []Event{{int64(i / 2), m}}))
		if i == len(msgs)/2 {
			must(t, db.Flush())
		}
	}
	check("memtable+part")
	must(t, db.Flush())
	check("parts")
	must(t, db.Compact())
	check("merged")
	must(t, db.Close())
	db = openTestDB(t, mem, nil, nil)
	check("reopened")
	must(t, db.Close())
}

// TestGoldenPartFile decodes a part written by an earlier build, so a
// format change that cannot read existing data fails here. Run with
// -update to rewrite it after a deliberate format change.
func TestGoldenPartFile(t *testing.T) {
	const partFile, msgFile = "testdata/golden/v1.part", "testdata/golden/v1.messages.txt"
	msgs := goldenMessages()
	if *update {
		mem := vfs.NewMem()
		db := openTestDB(t, mem, nil, func(o *Options) { o.BlockRows = 50 })
		must(t, db.CreateGroup("g", GroupMeta{}))
		must(t, db.CreateStream("g", "s", 0))
		for i, m := range msgs {
			must(t, db.Append("g", "s", 7, []Event{{int64(i / 2), m}}))
		}
		must(t, db.Compact())
		p := db.groups["g"].parts[0]
		f, _ := mem.Open(p.path)
		data, err := readAll(f)
		must(t, err)
		must(t, os.WriteFile(partFile, data, 0o644))
		// One Go-quoted message per line: JSON would not keep invalid UTF-8.
		var sb strings.Builder
		for _, m := range msgs {
			sb.WriteString(strconv.Quote(m) + "\n")
		}
		must(t, os.WriteFile(msgFile, []byte(sb.String()), 0o644))
		db.Close()
	}
	data, err := os.ReadFile(partFile)
	must(t, err)
	var want []string
	j, err := os.ReadFile(msgFile)
	must(t, err)
	for _, line := range strings.Split(strings.TrimSuffix(string(j), "\n"), "\n") {
		m, err := strconv.Unquote(line)
		must(t, err)
		want = append(want, m)
	}
	if !slices.Equal(want, msgs) {
		t.Fatal("golden messages changed; rerun with -update if deliberate")
	}
	p := partFromBytes(t, data)
	type rec struct {
		ts  int64
		seq uint64
		msg string
	}
	var got []rec
	for i := range p.blocks {
		d, err := p.readBlock(&p.blocks[i], ColMessage|ColIngestion|ColTokens)
		must(t, err)
		for r := 0; r < d.rows; r++ {
			if d.ingest[r] != 7 {
				t.Fatalf("ingestion time %d", d.ingest[r])
			}
			got = append(got, rec{d.ts[r], d.seq[r], d.msgs[r]})
		}
	}
	slices.SortFunc(got, func(a, b rec) int { return cmpUint(a.seq, b.seq) })
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.msg != want[i] || r.ts != int64(i/2) {
			t.Fatalf("row %d: %q at %d, want %q at %d", i, r.msg, r.ts, want[i], i/2)
		}
	}
}

func partFromBytes(t testing.TB, data []byte) *part {
	mem := vfs.NewMem()
	f, _ := mem.Create("/p")
	f.Write(data)
	p, err := openPart(mem, "/p", 1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScanPredsSkipBlocks: blocks that cannot match are not read, and no
// matching row is lost.
func TestScanPredsSkipBlocks(t *testing.T) {
	db := openTestDB(t, vfs.NewMem(), nil, func(o *Options) { o.BlockRows = 100 })
	defer db.Close()
	must(t, db.CreateGroup("g", GroupMeta{}))
	for s := 0; s < 10; s++ {
		name := fmt.Sprint("eni-", s)
		must(t, db.CreateStream("g", name, 0))
		evs := make([]Event, 100)
		for i := range evs {
			// Stream s talks only to port 1000+s and peer 10.0.0.s.
			evs[i] = Event{int64(i), fmt.Sprintf("2 123 %s 10.0.0.%d 172.16.0.1 %d %d 6 1 40 0 60 %s OK", name, s, 1000+s, 2000+i, []string{"ACCEPT", "REJECT"}[s%2])}
		}
		must(t, db.Append("g", name, 1, evs))
	}
	must(t, db.Flush())
	count := func(preds ...TokenPred) (blocks, rows int) {
		ch := make(chan int, 100)
		must(t, db.Scan(context.Background(), ScanQuery{Group: "g", Start: MinTime, End: MaxTime, Preds: preds, Need: ColTokens | ColTimestamps | ColSeq}, func(b *Block) error {
			ch <- b.Len
			return nil
		}))
		close(ch)
		for n := range ch {
			blocks++
			rows += n
		}
		return
	}
	if b, r := count(); b != 10 || r != 1000 {
		t.Fatalf("no preds: %d blocks %d rows", b, r)
	}
	cases := []struct {
		pred   TokenPred
		blocks int
	}{
		{TokenPred{Count: 14, Col: 5, Op: OpEq, Str: "1003"}, 1},
		{TokenPred{Count: 14, Col: 5, Op: OpGe, Str: "1008"}, 2},
		{TokenPred{Count: 14, Col: 5, Op: OpLt, Str: "1002"}, 2},
		{TokenPred{Count: 14, Col: 5, Op: OpNe, Str: "1003"}, 9},
		{TokenPred{Count: 14, Col: 3, Op: OpEq, Str: "10.0.0.7"}, 1},
		{TokenPred{Count: 14, Col: 2, Op: OpEq, Str: "eni-4"}, 1},
		{TokenPred{Count: 14, Col: 12, Op: OpEq, Str: "REJECT"}, 5},
		{TokenPred{Count: 14, Col: 12, Op: OpEq, Str: "NOPE"}, 0},
		{TokenPred{Count: 14, Col: 5, Op: OpEq, Str: "-"}, 0},
		{TokenPred{Count: 14, Col: 5, Op: OpEq, Str: "not-a-number"}, 10},
		{TokenPred{Count: 15, Col: 5, Op: OpEq, Str: "1003"}, 10},
		{TokenPred{Count: 15, Col: 5, Op: OpEq, Str: "1003", RequireShape: true}, 0},
	}
	for _, c := range cases {
		b, r := count(c.pred)
		// Bloom filters may let a block through; min/max and shapes here
		// are exact, so allow at most the expected count plus false
		// positives of the bloom cases, never fewer.
		if b < c.blocks || r != b*100 || (c.pred.Op != OpEq && b != c.blocks) {
			t.Errorf("%+v: %d blocks, want %d", c.pred, b, c.blocks)
		}
	}
}
