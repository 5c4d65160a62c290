package vfs

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestMemCrashClone(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create("/d/f")
	f.Write([]byte("synced"))
	f.Sync()
	f.Write([]byte("-unsynced"))
	c := m.CrashClone(nil)
	g, err := c.Open("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(g)
	if string(b) != "synced" {
		t.Fatalf("after crash: %q", b)
	}
	// With an rng, some unsynced bytes may survive, never more than written.
	for seed := uint64(0); seed < 20; seed++ {
		g, _ := m.CrashClone(rand.New(rand.NewPCG(seed, 1))).Open("/d/f")
		b, _ := io.ReadAll(g)
		if len(b) < 6 || len(b) > 15 || string(b[:6]) != "synced" {
			t.Fatalf("seed %d: %q", seed, b)
		}
	}
	if names, _ := m.List("/d"); len(names) != 1 || names[0] != "f" {
		t.Fatalf("list %v", names)
	}
}

func TestInjectTornWrite(t *testing.T) {
	m := NewMem()
	fs := Inject(m, func(op Op, name string, p []byte) (int, error) {
		if op == OpWrite {
			return 2, ErrInjected
		}
		if op == OpSync {
			return 0, ErrInjected
		}
		return 0, nil
	})
	f, err := fs.Create("/x")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte("hello")); n != 2 || !errors.Is(err, ErrInjected) {
		t.Fatalf("torn write: %d %v", n, err)
	}
	if err := f.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("sync: %v", err)
	}
	g, _ := m.Open("/x")
	b, _ := io.ReadAll(g)
	if string(b) != "he" {
		t.Fatalf("file holds %q", b)
	}
}

func TestLocks(t *testing.T) {
	for _, fs := range []FS{NewMem(), Default} {
		name := "/tmp/vfs-lock-test"
		if _, ok := fs.(*MemFS); ok {
			name = "/LOCK"
		} else {
			name = t.TempDir() + "/LOCK"
		}
		l, err := fs.Lock(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Lock(name); err == nil {
			t.Fatal("lock taken twice")
		}
		l.Close()
		l, err = fs.Lock(name)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
}
