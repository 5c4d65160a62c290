package vfs

import (
	"errors"
	"sync"
)

// Op names an operation an Injector may fail.
type Op uint8

const (
	OpWrite Op = iota
	OpSync
	OpCreate
	OpRename
	OpRemove
	OpSyncDir
)

// ErrInjected is the error injected operations return.
var ErrInjected = errors.New("vfs: injected error")

// Injector decides, for each operation, whether it fails. For OpWrite,
// returning (n, ErrInjected) with 0 <= n < len(p) writes only the first n
// bytes (a torn write) before failing.
type Injector func(op Op, name string, p []byte) (n int, err error)

// Inject wraps fs so that inj can fail its operations.
func Inject(fs FS, inj Injector) FS { return &injectFS{FS: fs, inj: inj} }

type injectFS struct {
	FS
	mu  sync.Mutex
	inj Injector
}

func (f *injectFS) check(op Op, name string, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inj(op, name, p)
}

type injectFile struct {
	File
	fs   *injectFS
	name string
}

func (f *injectFile) Write(p []byte) (int, error) {
	if n, err := f.fs.check(OpWrite, f.name, p); err != nil {
		if n > 0 {
			w, _ := f.File.Write(p[:min(n, len(p))])
			return w, err
		}
		return 0, err
	}
	return f.File.Write(p)
}

func (f *injectFile) Sync() error {
	if _, err := f.fs.check(OpSync, f.name, nil); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *injectFS) wrap(name string, file File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &injectFile{File: file, fs: f, name: name}, nil
}

func (f *injectFS) Create(name string) (File, error) {
	if _, err := f.check(OpCreate, name, nil); err != nil {
		return nil, err
	}
	file, err := f.FS.Create(name)
	return f.wrap(name, file, err)
}

func (f *injectFS) Open(name string) (File, error) {
	file, err := f.FS.Open(name)
	return f.wrap(name, file, err)
}

func (f *injectFS) OpenRW(name string) (File, error) {
	file, err := f.FS.OpenRW(name)
	return f.wrap(name, file, err)
}

func (f *injectFS) Rename(oldname, newname string) error {
	if _, err := f.check(OpRename, newname, nil); err != nil {
		return err
	}
	return f.FS.Rename(oldname, newname)
}

func (f *injectFS) Remove(name string) error {
	if _, err := f.check(OpRemove, name, nil); err != nil {
		return err
	}
	return f.FS.Remove(name)
}

func (f *injectFS) SyncDir(dir string) error {
	if _, err := f.check(OpSyncDir, dir, nil); err != nil {
		return err
	}
	return f.FS.SyncDir(dir)
}
