package flowgen

import (
	"bytes"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
)

// ParallelGzip compresses on several cores by writing each chunk as its
// own gzip member; concatenated members are one valid gzip stream (RFC
// 1952), which gzip, zcat and Go's gzip.Reader read as a whole.
type ParallelGzip struct {
	w       io.Writer
	level   int
	pending chan chan []byte
	done    chan error
	buf     []byte
}

const pgzChunk = 1 << 20

// NewParallelGzip returns a writer compressing into w with up to workers
// chunks in flight (default GOMAXPROCS).
func NewParallelGzip(w io.Writer, level, workers int) *ParallelGzip {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	z := &ParallelGzip{w: w, level: level, pending: make(chan chan []byte, workers), done: make(chan error, 1)}
	go func() {
		var err error
		for ch := range z.pending {
			b := <-ch
			if err == nil {
				_, err = w.Write(b)
			}
		}
		z.done <- err
	}()
	return z
}

// Write buffers p and compresses full chunks in the background.
func (z *ParallelGzip) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if z.buf == nil {
			z.buf = make([]byte, 0, pgzChunk)
		}
		k := min(len(p), pgzChunk-len(z.buf))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		if len(z.buf) == pgzChunk {
			z.flushChunk()
		}
	}
	return n, nil
}

func (z *ParallelGzip) flushChunk() {
	in := z.buf
	z.buf = nil
	ch := make(chan []byte, 1)
	z.pending <- ch // blocks while all workers are busy
	go func() {
		var out bytes.Buffer
		out.Grow(len(in) / 3)
		zw, _ := gzip.NewWriterLevel(&out, z.level)
		zw.Write(in)
		zw.Close()
		ch <- out.Bytes()
	}()
}

// Close compresses what is buffered, waits for every chunk and reports the
// first write error.
func (z *ParallelGzip) Close() error {
	if len(z.buf) > 0 {
		z.flushChunk()
	}
	close(z.pending)
	return <-z.done
}
