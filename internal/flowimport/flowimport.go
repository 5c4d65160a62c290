// Package flowimport bulk-loads VPC flow log files (plain, gzip, the S3
// export layout) into a log group of the embedded store: the pipeline
// behind `flowwatch import`. One goroutine reads the files in order, in
// large chunks of whole lines; GOMAXPROCS workers turn chunks into
// numbered batches of a logstore.BulkLoad, which sorts them and writes
// parts in their final form (see docs/storage.md, "Bulk import").
package flowimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/logstore"
	"github.com/klauspost/compress/gzip"
)

// Options say where records go.
type Options struct {
	Group string
	// StreamFrom is the field whose value names each record's log stream
	// (default interface-id).
	StreamFrom string
	// Ingest is every record's ingestion time and new streams' creation
	// time (epoch ms).
	Ingest int64
	// Budget is the memory the load buffers before it writes parts
	// (0: logstore.BulkBudget).
	Budget int
}

// Stats count what a load did.
type Stats struct {
	Records, Skipped int64
}

// Files expands directories into the text flow log files beneath them, in
// name order, so that an S3 export loads day by day.
func Files(args []string) ([]string, error) {
	return flowfile.ExpandSuffixes(args, []string{".log", ".gz", ".txt"})
}

// chunkBytes is the size of the pieces files are read and parsed in: large
// enough that per-chunk costs vanish, small enough that every CPU gets work
// and a batch's rows stay together in memory.
var chunkBytes = logstore.BulkChunk // a variable for tests

type chunk struct {
	b                  *logstore.BulkBatch
	start              int // past the header line, if any
	streamCol, timeCol int
}

// Load loads files, in order, into opts.Group of db (which must exist).
// The records are durable when it returns.
func Load(db *logstore.DB, opts Options, files []string) (Stats, error) {
	if opts.StreamFrom == "" {
		opts.StreamFrom = "interface-id"
	}
	l, err := db.BeginBulk(opts.Group, opts.Ingest, opts.Budget)
	if err != nil {
		return Stats{}, err
	}
	var skipped atomic.Int64
	var errOnce sync.Once
	var firstErr error
	failed := make(chan struct{})
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; close(failed) })
	}
	chunks := make(chan chunk, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := 0; w < max(1, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				n, err := parse(l, c)
				skipped.Add(n)
				if err != nil {
					fail(err)
				}
			}
		}()
	}
	r := &reader{l: l, opts: opts, out: chunks, failed: failed}
	for _, f := range files {
		if err := r.file(f); err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
			break
		}
	}
	close(chunks)
	wg.Wait()
	records, err := l.Finish()
	if firstErr != nil {
		err = firstErr
	}
	return Stats{Records: records, Skipped: skipped.Load()}, err
}

// reader cuts files into chunks of whole lines, numbered across files.
type reader struct {
	l      *logstore.BulkLoad
	opts   Options
	out    chan<- chunk
	failed <-chan struct{}
	no     uint64
}

func (r *reader) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return err
		}
		defer zr.Close()
		in = zr
	}
	streamCol, timeCol := -1, -1
	fields := flowfile.DefaultFields
	setFields := func(fs []string) {
		fields = fs
		streamCol, timeCol = -1, -1
		for i, n := range fs {
			if n == r.opts.StreamFrom {
				streamCol = i
			}
			if n == "start" {
				timeCol = i
			}
		}
	}
	setFields(fields)
	first := true
	var carry []byte
	for {
		b := r.l.NewBatch(r.no)
		b.Grow(len(carry) + chunkBytes/2)
		buf := append(b.Text, carry...)
		var eof bool
		for !eof {
			if len(buf) == cap(buf) {
				// A line longer than the buffer: grow it.
				b.Text = buf
				b.Grow(cap(buf))
				buf = b.Text
			}
			n, err := io.ReadFull(in, buf[len(buf):min(cap(buf), len(buf)+chunkBytes)])
			buf = buf[:len(buf)+n]
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return err
			}
			eof = err != nil
			if eof || bytes.IndexByte(buf[len(buf)-n:], '\n') >= 0 {
				break
			}
		}
		end := len(buf)
		carry = carry[:0]
		if !eof {
			last := bytes.LastIndexByte(buf, '\n')
			carry = append(carry, buf[last+1:]...)
			end = last + 1
		}
		b.Text = buf[:end]
		c := chunk{b: b, streamCol: streamCol, timeCol: timeCol}
		if first {
			// The header, if any, is the first non-empty line; it sets the
			// field positions before any record is parsed.
			first = false
			rest := b.Text
			off := 0
			for len(rest) > 0 {
				line, after, _ := bytes.Cut(rest, []byte{'\n'})
				if l := bytes.TrimSuffix(line, []byte{'\r'}); len(l) > 0 {
					if h := flowfile.HeaderFields(string(l)); h != nil {
						setFields(h)
						c.start = off + len(line) + 1
					}
					break
				}
				off += len(line) + 1
				rest = after
			}
			if streamCol < 0 {
				return fmt.Errorf("format has no field %q to name streams by (fields: %s)", r.opts.StreamFrom, strings.Join(fields, " "))
			}
			c.streamCol, c.timeCol = streamCol, timeCol
		}
		select {
		case r.out <- c:
			r.no++
		case <-r.failed:
			return nil
		}
		if eof {
			return nil
		}
	}
}

// token is token i of line, whose token ends are ends.
func token(line string, ends []int32, i int) string {
	start := int32(0)
	if i > 0 {
		start = ends[i-1] + 1
	}
	return line[start:ends[i]]
}

// parse adds a chunk's records to a batch and commits it. It returns the
// number of lines that are not records.
func parse(l *logstore.BulkLoad, c chunk) (int64, error) {
	b := c.b
	text := unsafe.String(unsafe.SliceData(b.Text), len(b.Text))
	skipped := int64(0)
	var ends [64]int32
	need := max(c.streamCol, c.timeCol) + 1
	if need > len(ends) || c.streamCol < 0 || c.timeCol < 0 {
		need = len(ends) + 1 // RecordKey for every line
	}
	for p := c.start; p < len(text); {
		end := strings.IndexByte(text[p:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += p
		}
		line := text[p:end]
		off := p
		p = end + 1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if line == "" {
			continue
		}
		// One pass finds the shape the store files the record under and
		// its key tokens; lines that are not single-space separated
		// tokens take RecordKey's general path.
		shape := logstore.Tokenize(line, ends[:min(need, len(ends))])
		var stream string
		var ts int64
		var ok bool
		if shape >= need {
			stream, ts, ok = flowfile.KeyFromTokens(token(line, ends[:], c.streamCol), token(line, ends[:], c.timeCol))
		} else {
			stream, ts, ok = flowfile.RecordKey(line, c.streamCol, c.timeCol)
		}
		if !ok {
			skipped++
			continue
		}
		if err := b.Add(stream, ts, off, len(line), shape); err != nil {
			return skipped, err
		}
	}
	return skipped, l.Commit(b)
}
