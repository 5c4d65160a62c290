package logstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// allMessages returns every message of a group, in order.
func allMessages(t testing.TB, s Store, group string) []string {
	t.Helper()
	ev, more, err := s.Events(context.Background(), EventQuery{Group: group, Start: MinTime, End: MaxTime})
	must(t, err)
	if more {
		t.Fatal("unexpected more")
	}
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.Message
	}
	return out
}

// checkExactlyOnce asserts every acknowledged message is present exactly
// once, and nothing is present twice.
func checkExactlyOnce(t testing.TB, got []string, acked map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range got {
		seen[m]++
		if seen[m] > 1 {
			t.Fatalf("message %q present twice", m)
		}
	}
	for m := range acked {
		if seen[m] != 1 {
			t.Fatalf("acknowledged message %q lost", m)
		}
	}
}

func setupGroup(t testing.TB, s Store) {
	t.Helper()
	must(t, s.CreateGroup("g", GroupMeta{CreationTime: 1}))
	for _, st := range []string{"s0", "s1", "s2", "s3"} {
		must(t, s.CreateStream("g", st, 1))
	}
}

// writeConcurrently appends batches from several goroutines until stop
// reports true, and returns the messages of acknowledged batches.
func writeConcurrently(s Store, tag string, writers, batches int, stop func() bool) (map[string]bool, int) {
	var mu sync.Mutex
	acked := map[string]bool{}
	var failures atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches && !stop(); b++ {
				evs := make([]Event, 10)
				for i := range evs {
					evs[i] = Event{Timestamp: 1_700_000_000_000 + int64(b*10+i), Message: fmt.Sprintf("%sw%d b%d e%d", tag, w, b, i)}
				}
				if err := s.Append("g", fmt.Sprintf("s%d", w%4), 5, evs); err != nil {
					failures.Add(1)
					continue
				}
				mu.Lock()
				for _, e := range evs {
					acked[e.Message] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked, int(failures.Load())
}

func TestTornWALWrite(t *testing.T) {
	mem := vfs.NewMem()
	var writes atomic.Int32
	var torn atomic.Bool
	fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
		if op == vfs.OpWrite && strings.HasSuffix(name, ".log") && writes.Add(1) == 25 {
			torn.Store(true)
			return len(p) / 2, vfs.ErrInjected // half a group commit reaches the file
		}
		return 0, nil
	})
	db := openTestDB(t, fs, nil, nil)
	setupGroup(t, db)
	acked, failures := writeConcurrently(db, "", 6, 40, func() bool { return false })
	if !torn.Load() || failures == 0 {
		t.Fatalf("no torn write happened (failures %d)", failures)
	}
	if err := db.Append("g", "s0", 1, []Event{{1, "after"}}); err == nil {
		t.Fatal("append after a failed WAL write succeeded")
	}
	db.Close()
	// Reopen on the same bytes: the torn record is in the file and must be
	// detected and cut, not read.
	db = openTestDB(t, mem, nil, nil)
	checkExactlyOnce(t, allMessages(t, db, "g"), acked)
	// The store is healthy again and the cut tail stays cut.
	must(t, db.Append("g", "s0", 1, []Event{{1, "after reopen"}}))
	must(t, db.Close())
	db = openTestDB(t, mem, nil, nil)
	acked["after reopen"] = true
	checkExactlyOnce(t, allMessages(t, db, "g"), acked)
	must(t, db.Close())
}

func TestFsyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	var syncs atomic.Int32
	fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
		if op == vfs.OpSync && strings.HasSuffix(name, ".log") && syncs.Add(1) == 30 {
			return 0, vfs.ErrInjected
		}
		return 0, nil
	})
	db := openTestDB(t, fs, nil, nil)
	setupGroup(t, db)
	acked, failures := writeConcurrently(db, "", 6, 40, func() bool { return false })
	if failures == 0 {
		t.Fatal("fsync failure was not reported")
	}
	// Fail-stop: after an fsync error the kernel may have dropped the dirty
	// pages, so nothing written later could be trusted.
	if err := db.CreateStream("g", "new", 1); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("metadata write after fsync failure: %v", err)
	}
	db.Close()
	// A power cut after the failure keeps only what was synced.
	crashed := mem.CrashClone(nil)
	db = openTestDB(t, crashed, nil, nil)
	checkExactlyOnce(t, allMessages(t, db, "g"), acked)
	must(t, db.Close())
}

func TestFlushFailureKeepsWAL(t *testing.T) {
	mem := vfs.NewMem()
	var failParts atomic.Bool
	fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
		if failParts.Load() && (op == vfs.OpWrite || op == vfs.OpSync) && strings.HasSuffix(name, ".part") {
			return 0, vfs.ErrInjected
		}
		if failParts.Load() && op == vfs.OpRename {
			return 0, vfs.ErrInjected
		}
		return 0, nil
	})
	db := openTestDB(t, fs, nil, nil)
	setupGroup(t, db)
	acked, _ := writeConcurrently(db, "", 4, 10, func() bool { return false })
	must(t, db.Flush())
	more, _ := writeConcurrently(db, "more ", 4, 5, func() bool { return false })
	for m := range more {
		acked[m] = true
	}
	failParts.Store(true)
	if err := db.Flush(); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("flush with failing part writes: %v", err)
	}
	if err := db.Append("g", "s0", 1, []Event{{1, "x"}}); err == nil {
		t.Fatal("append after failed flush succeeded")
	}
	db.Close()
	db = openTestDB(t, mem.CrashClone(nil), nil, nil)
	checkExactlyOnce(t, allMessages(t, db, "g"), acked)
	must(t, db.Close())
}

func TestCorruptWAL(t *testing.T) {
	mem := vfs.NewMem()
	db := openTestDB(t, mem, nil, nil)
	setupGroup(t, db)
	must(t, db.Append("g", "s0", 1, []Event{{1, "first"}}))
	must(t, db.Append("g", "s0", 1, []Event{{2, "second"}}))
	db.Close()
	// Close flushed everything; write two records again and corrupt the
	// last one's payload.
	db = openTestDB(t, mem, nil, nil)
	must(t, db.Append("g", "s0", 1, []Event{{3, "third"}}))
	must(t, db.Append("g", "s0", 1, []Event{{4, "fourth"}}))
	seg := walName("/db/wal", db.walSeg)
	crashed := mem.CrashClone(nil)
	db.Close()
	f, err := crashed.Open(seg)
	must(t, err)
	data, err := readAll(f)
	must(t, err)
	i := strings.LastIndex(string(data), "fourth")
	if i < 0 {
		t.Fatal("record not found in WAL")
	}
	data[i] ^= 0x20
	w, _ := crashed.Create(seg)
	w.Write(data)
	w.Sync()
	db = openTestDB(t, crashed, nil, nil)
	if got := allMessages(t, db, "g"); strings.Join(got, ",") != "first,second,third" {
		t.Fatalf("after corrupt tail: %v", got)
	}
	must(t, db.Close())

	// Corruption followed by a later segment is not a torn tail: refuse.
	mem = vfs.NewMem()
	db = openTestDB(t, mem, nil, nil)
	setupGroup(t, db)
	must(t, db.Append("g", "s0", 1, []Event{{3, "third"}}))
	seg = walName("/db/wal", db.walSeg)
	crashed = mem.CrashClone(nil)
	db.Close()
	f, _ = crashed.Open(seg)
	data, _ = readAll(f)
	data[len(data)-1] ^= 1
	w, _ = crashed.Create(seg)
	w.Write(data)
	w2, _ := crashed.Create(walName("/db/wal", 99))
	w2.Write(appendWALRecord(nil, []byte{recMeta, '{', '}'}))
	if _, err := Open(Options{Dir: "/db", FS: crashed, NoBackground: true}); err == nil || !errors.Is(err, errWALCorrupt) {
		t.Fatalf("open with corrupt middle segment: %v", err)
	}
}

func TestCorruptPartDetected(t *testing.T) {
	mem := vfs.NewMem()
	db := openTestDB(t, mem, nil, nil)
	setupGroup(t, db)
	must(t, db.Append("g", "s0", 1, []Event{{1, "some message here"}}))
	must(t, db.Close())
	names, _ := mem.List("/db/parts")
	if len(names) != 1 {
		t.Fatalf("parts: %v", names)
	}
	path := "/db/parts/" + names[0]
	f, _ := mem.Open(path)
	data, _ := readAll(f)
	data[0] ^= 0xff // first chunk: checksummed in the index
	w, _ := mem.Create(path)
	w.Write(data)
	db = openTestDB(t, mem, nil, nil)
	defer db.Close()
	_, _, err := db.Events(context.Background(), EventQuery{Group: "g", Start: MinTime, End: MaxTime})
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("read of corrupt chunk: %v", err)
	}
}

// TestBackpressureWakesOnFailure: Appends held back by a full memtable
// return an error when the flush they wait for fails, instead of hanging.
func TestBackpressureWakesOnFailure(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
		if fail.Load() && strings.HasSuffix(name, ".part") && op == vfs.OpCreate {
			return 0, vfs.ErrInjected
		}
		return 0, nil
	})
	db, err := Open(Options{Dir: "/db", FS: fs, MemtableBytes: 4 << 10, Logger: quietLogger()})
	must(t, err)
	setupGroup(t, db)
	fail.Store(true)
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if err := db.Append("g", "s0", 1, []Event{{int64(i), strings.Repeat("x", 500)}}); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("append error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("appends hang after a failed flush")
	}
	db.Close()
}
