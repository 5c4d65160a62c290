package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func batch(i int) Batch {
	return Batch{Group: "g", Stream: fmt.Sprintf("eni-%017d-all", i%3),
		Events: []Event{{Timestamp: int64(i) * 1000, Message: fmt.Sprintf("2 000000000000 eni-x 10.0.0.1 10.0.0.2 1 2 17 %d 100 1 2 ACCEPT OK", i)}}}
}

// drain reads and removes every batch, oldest first.
func drain(t *testing.T, s *Spool) []Batch {
	t.Helper()
	var out []Batch
	for {
		b, seq, ok := s.Oldest()
		if !ok {
			return out
		}
		out = append(out, b)
		if err := s.Done(seq); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Put(batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A crash mid-write leaves a temporary file: not a batch, removed.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000010.batch.tmp"), []byte("flowwatch-agent-batch 1\ngroup g\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Reopen as after a restart: the same batches, in order, and new
	// ones after them.
	s, err = OpenSpool(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(batch(10)); err != nil {
		t.Fatal(err)
	}
	got := drain(t, s)
	if len(got) != 11 {
		t.Fatalf("got %d batches, want 11", len(got))
	}
	for i, b := range got {
		want := batch(i)
		if b.Stream != want.Stream || len(b.Events) != 1 || b.Events[0] != want.Events[0] {
			t.Errorf("batch %d: %+v, want %+v", i, b, want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}

func TestSpoolBound(t *testing.T) {
	dir := t.TempDir()
	one := int64(len(encodeBatch(&Batch{Group: "g", Stream: "eni-00000000000000000-all", Events: batch(1).Events})))
	// Room for exactly five batches: the sixth drops the oldest.
	s, err := OpenSpool(dir, 5*one, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Put(batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Dropped() != 0 || s.Len() != 5 {
		t.Fatalf("within the bound: dropped %d, len %d", s.Dropped(), s.Len())
	}
	for i := 5; i < 8; i++ {
		if err := s.Put(batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Dropped() != 3 || s.Len() != 5 || s.Size() > 5*one {
		t.Fatalf("past the bound: dropped %d, len %d, size %d", s.Dropped(), s.Len(), s.Size())
	}
	got := drain(t, s)
	for i, b := range got {
		if b.Events[0] != batch(i + 3).Events[0] {
			t.Errorf("batch %d is %v, want batch %d (oldest dropped first)", i, b.Events[0], i+3)
		}
	}
}

// TestSpoolDurableOnPut checks what a crash right after Put returns
// would find: the file complete under its final name (written, fsynced
// and renamed before Put returns), and a torn or foreign file is skipped.
func TestSpoolDurableOnPut(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenSpool(dir, 0, nil)
	if err := s.Put(batch(1), batch(2)); err != nil {
		t.Fatal(err)
	}
	// No temporary file is left behind, both are whole.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("files: %v", ents)
	}
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if _, err := decodeBatch(data); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
	// A torn batch (say, a disk that lied about fsync) is dropped and
	// counted, not replayed as garbage, and does not block later ones.
	os.WriteFile(filepath.Join(dir, "00000000000000000000.batch"), []byte("flowwatch-agent-batch 1\ngroup g\nstream s\n1 x\n"), 0o600)
	s, _ = OpenSpool(dir, 0, nil)
	got := drain(t, s)
	if len(got) != 1 || s.Dropped() != 1 {
		t.Fatalf("got %d batches, dropped %d", len(got), s.Dropped())
	}
}

func TestChunkEnd(t *testing.T) {
	big := make([]Event, 25000)
	for i := range big {
		big[i] = Event{Timestamp: 1000, Message: "x"}
	}
	if n := chunkEnd(big); n != maxEvents {
		t.Errorf("count: %d", n)
	}
	msg := string(make([]byte, 100_000))
	heavy := make([]Event, 20)
	for i := range heavy {
		heavy[i] = Event{Timestamp: 1000, Message: msg}
	}
	if n := chunkEnd(heavy); n != 10 {
		t.Errorf("size: %d, want 10 (10 × 100,026 bytes fit in 1 MiB)", n)
	}
	span := []Event{{Timestamp: 0, Message: "a"}, {Timestamp: maxSpanMs - 1, Message: "b"}, {Timestamp: maxSpanMs, Message: "c"}}
	if n := chunkEnd(span); n != 2 {
		t.Errorf("span: %d", n)
	}
}
