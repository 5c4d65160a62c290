package vfs

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// MemFS is an in-memory FS that remembers how much of each file was synced,
// so that CrashClone can produce what a disk would hold after a power cut.
// Directory operations (create, rename, remove) are treated as durable at
// once: the store syncs its directories after each of them anyway.
type MemFS struct {
	mu    sync.Mutex
	locks map[string]bool
	files map[string]*memNode
	dirs  map[string]bool
}

type memNode struct {
	data   []byte
	synced int
}

// NewMem returns an empty MemFS.
func NewMem() *MemFS {
	return &MemFS{files: map[string]*memNode{}, dirs: map[string]bool{"/": true, ".": true}}
}

func clean(name string) string { return filepath.Clean(name) }

type memFile struct {
	fs     *MemFS
	n      *memNode
	off    int64
	closed bool
}

func (f *memFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, fs.ErrClosed
	}
	f.n.data = append(f.n.data, p...)
	return len(p), nil
}

func (f *memFile) Close() error { f.closed = true; return nil }

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.n.synced = len(f.n.data)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.n.data)), nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if int(size) < len(f.n.data) {
		f.n.data = f.n.data[:size]
	}
	f.n.synced = min(f.n.synced, int(size))
	return nil
}

func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if !m.dirs[filepath.Dir(name)] {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
	}
	n := &memNode{}
	m.files[name] = n
	return &memFile{fs: m, n: n}, nil
}

func (m *MemFS) open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.files[clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{fs: m, n: n}, nil
}

func (m *MemFS) Open(name string) (File, error)   { return m.open(name) }
func (m *MemFS) OpenRW(name string) (File, error) { return m.open(name) }

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if _, ok := m.files[name]; ok {
		delete(m.files, name)
		return nil
	}
	if m.dirs[name] {
		for f := range m.files {
			if filepath.Dir(f) == name {
				return errors.New("remove " + name + ": directory not empty")
			}
		}
		delete(m.dirs, name)
		return nil
	}
	return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
}

func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	pre := name + string(filepath.Separator)
	for f := range m.files {
		if f == name || strings.HasPrefix(f, pre) {
			delete(m.files, f)
		}
	}
	for d := range m.dirs {
		if d == name || strings.HasPrefix(d, pre) {
			delete(m.dirs, d)
		}
	}
	return nil
}

func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldname, newname = clean(oldname), clean(newname)
	n, ok := m.files[oldname]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(m.files, oldname)
	m.files[newname] = n
	return nil
}

func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := clean(dir); ; d = filepath.Dir(d) {
		m.dirs[d] = true
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = clean(dir)
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrNotExist}
	}
	var out []string
	for f := range m.files {
		if filepath.Dir(f) == dir {
			out = append(out, filepath.Base(f))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			out = append(out, filepath.Base(d))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *MemFS) SyncDir(string) error { return nil }

type memLock struct {
	m    *MemFS
	name string
}

func (l memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.locks, l.name)
	return nil
}

func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if m.locks == nil {
		m.locks = map[string]bool{}
	}
	if m.locks[name] {
		return nil, errors.New("lock " + name + ": held")
	}
	m.locks[name] = true
	return memLock{m, name}, nil
}

// CrashClone returns the filesystem as a power cut would leave it: every
// file keeps its synced prefix, plus, when rng is not nil, a random part of
// its unsynced tail of which the last bytes may be garbage (a torn write).
func (m *MemFS) CrashClone(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	for d := range m.dirs {
		c.dirs[d] = true
	}
	for name, n := range m.files {
		keep := n.synced
		if rng != nil && len(n.data) > n.synced {
			keep += rng.IntN(len(n.data) - n.synced + 1)
		}
		data := append([]byte(nil), n.data[:keep]...)
		if rng != nil && keep > n.synced && rng.IntN(2) == 0 {
			// Tear: scribble over a few of the unsynced bytes kept.
			for i := 0; i < 4 && keep-1-i >= n.synced; i++ {
				data[keep-1-i] ^= byte(1 + rng.IntN(255))
			}
		}
		c.files[name] = &memNode{data: data, synced: len(data)}
	}
	return c
}
