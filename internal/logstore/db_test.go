package logstore

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

func openTestDB(t testing.TB, fs vfs.FS, now *int64, tweak func(*Options)) *DB {
	t.Helper()
	o := Options{Dir: "/db", FS: fs, NoBackground: true, BlockRows: 64, Logger: quietLogger()}
	if now != nil {
		o.Now = func() time.Time { return time.UnixMilli(atomic.LoadInt64(now)) }
	}
	if tweak != nil {
		tweak(&o)
	}
	db, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// flushingDB flushes after every Append, so reads go through parts.
type flushingDB struct{ *DB }

func (f flushingDB) Append(group, stream string, ingest int64, events []Event) error {
	if err := f.DB.Append(group, stream, ingest, events); err != nil {
		return err
	}
	return f.DB.Flush()
}

// mergingDB also compacts, so reads go through merged parts.
type mergingDB struct{ *DB }

func (f mergingDB) Append(group, stream string, ingest int64, events []Event) error {
	if err := f.DB.Append(group, stream, ingest, events); err != nil {
		return err
	}
	return f.DB.Compact()
}

func TestDBContract(t *testing.T) {
	t.Run("memtable", func(t *testing.T) {
		testStoreContract(t, func(t *testing.T, now *int64) Store { return openTestDB(t, vfs.NewMem(), now, nil) })
	})
	t.Run("parts", func(t *testing.T) {
		testStoreContract(t, func(t *testing.T, now *int64) Store {
			return flushingDB{openTestDB(t, vfs.NewMem(), now, nil)}
		})
	})
	t.Run("merged", func(t *testing.T) {
		testStoreContract(t, func(t *testing.T, now *int64) Store {
			return mergingDB{openTestDB(t, vfs.NewMem(), now, nil)}
		})
	})
	t.Run("osfs-background", func(t *testing.T) {
		testStoreContract(t, func(t *testing.T, now *int64) Store {
			db, err := Open(Options{Dir: t.TempDir(), MemtableBytes: 200, BlockRows: 8,
				Now: func() time.Time { return time.UnixMilli(atomic.LoadInt64(now)) }})
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
}

// quietLogger hides the store's expected warnings (cut WAL tails) unless
// the test runs with -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestOpenLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, Logger: quietLogger()})
	must(t, err)
	if _, err := Open(Options{Dir: dir, Logger: quietLogger()}); err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
	must(t, db.Close())
	db, err = Open(Options{Dir: dir, Logger: quietLogger()})
	must(t, err)
	must(t, db.Close())
}

// TestNoSync: with NoSync nothing waits for an fsync, and Close still makes
// everything durable.
func TestNoSync(t *testing.T) {
	mem := vfs.NewMem()
	var syncs int
	fs := vfs.Inject(mem, func(op vfs.Op, name string, p []byte) (int, error) {
		if op == vfs.OpSync {
			syncs++
		}
		return 0, nil
	})
	db := openTestDB(t, fs, nil, func(o *Options) { o.NoSync = true })
	setupGroup(t, db)
	for i := 0; i < 50; i++ {
		must(t, db.Append("g", "s1", 1, []Event{{int64(i), fmt.Sprint("m", i)}}))
		must(t, db.Import("g", "s2", 1, []Event{{int64(i), fmt.Sprint("i", i)}}))
	}
	if syncs > 2 {
		t.Fatalf("%d fsyncs before Close with NoSync", syncs)
	}
	must(t, db.Close())
	db = openTestDB(t, mem.CrashClone(nil), nil, nil)
	defer db.Close()
	if n := len(allMessages(t, db, "g")); n != 100 {
		t.Fatalf("%d events after Close and crash", n)
	}
}

func partFiles(t *testing.T, fs vfs.FS) int {
	t.Helper()
	names, err := fs.List("/db/parts")
	must(t, err)
	return len(names)
}

// TestRetentionRemovesParts: expired days leave the disk in the
// background, stream statistics follow, and both survive a reopen.
func TestRetentionRemovesParts(t *testing.T) {
	mem := vfs.NewMem()
	now := int64(100 * dayMs)
	db := openTestDB(t, mem, &now, func(o *Options) { o.MaintenanceInterval = 5 * time.Millisecond; o.NoBackground = false })
	must(t, db.CreateGroup("g", GroupMeta{}))
	must(t, db.CreateGroup("other", GroupMeta{}))
	must(t, db.CreateStream("g", "s", 0))
	must(t, db.CreateStream("other", "s", 0))
	for d := int64(90); d < 100; d++ {
		must(t, db.Append("g", "s", now, []Event{{d*dayMs + 1, fmt.Sprint("day ", d)}}))
		must(t, db.Append("other", "s", now, []Event{{d*dayMs + 1, "kept"}}))
	}
	must(t, db.Flush())
	if n := partFiles(t, mem); n != 20 {
		t.Fatalf("%d part files, want one per group and day", n)
	}
	must(t, db.UpdateGroup("g", func(m *GroupMeta) error { m.RetentionDays = 3; return nil }))
	deadline := time.Now().Add(5 * time.Second)
	for partFiles(t, mem) != 13 { // g keeps days 97, 98, 99
		if time.Now().After(deadline) {
			t.Fatalf("%d part files after retention", partFiles(t, mem))
		}
		time.Sleep(5 * time.Millisecond)
	}
	ss, _ := db.Streams("g")
	if ss[0].FirstEventTimestamp != 97*dayMs+1 || ss[0].StoredBytes != int64(3*len("day 99")) {
		t.Fatalf("stream after purge: %+v", ss[0])
	}
	must(t, db.DeleteGroup("other"))
	for partFiles(t, mem) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d part files after DeleteGroup", partFiles(t, mem))
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, db.Close())
	db = openTestDB(t, mem, &now, nil)
	defer db.Close()
	ss, _ = db.Streams("g")
	if got := allMessages(t, db, "g"); len(got) != 3 || ss[0].StoredBytes != int64(3*len("day 99")) {
		t.Fatalf("after reopen: %v %+v", got, ss)
	}
}
