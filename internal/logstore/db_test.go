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
