package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/logstore"
	"github.com/klauspost/compress/gzip"
)

func init() {
	register("import", "bulk-load VPC flow log files (plain, .gz, S3 export layout) into the store", runImport)
}

func runImport(args []string) int {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	fset.Usage = func() {
		fmt.Fprintln(fset.Output(), "usage: flowwatch import --log-group NAME [flags] FILE|DIR…\n\n"+
			"Loads flow log records straight into the store in --data-dir (not through the API; stop\n"+
			"`flowwatch serve` on that directory first). Directories are searched for *.log, *.log.gz,\n"+
			"*.txt and *.gz files, as in the S3 export layout AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/.\n"+
			"A header line (\"version account-id …\" or other field names) sets the field positions;\n"+
			"without one the default format is assumed. Each record's timestamp is start×1000.\n\nflags:")
		fset.PrintDefaults()
	}
	dataDir := fset.String("data-dir", defaultDataDir(), "directory of the embedded store")
	group := fset.String("log-group", "", "log group to load into (created if missing)")
	streamFrom := fset.String("log-stream-from", "interface-id", "field whose value names each record's log stream")
	compact := fset.Bool("compact", true, "merge every partition down to one part at the end")
	quiet := fset.Bool("quiet", false, "print nothing but errors")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *group == "" || fset.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "flowwatch import: need --log-group and at least one FILE or DIR")
		fset.Usage()
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "flowwatch import: no --data-dir and no home directory to default to")
		return 2
	}
	files, err := importFiles(fset.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch import:", err)
		return 1
	}
	// Background merges would rewrite parts that the final compaction
	// rewrites again; a bulk load merges once, at the end.
	mergeParts := 0
	if *compact {
		mergeParts = -1
	}
	// NoSync: stream creations need not each wait for an fsync; Close
	// makes the whole load durable at once.
	db, err := logstore.Open(logstore.Options{Dir: *dataDir, MergeParts: mergeParts, NoSync: true, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch import:", err)
		return 1
	}
	// The store's memtables are many small pointers; scanning them is most
	// of a bulk load's GC cost. Collect less often, but within a fixed
	// budget so the load stays under 1 GiB.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(768 << 20))
	if pf := os.Getenv("FLOWWATCH_IMPORT_CPUPROFILE"); pf != "" {
		// For measuring the bulk load itself (see docs/storage.md).
		if f, err := os.Create(pf); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	start := time.Now()
	st, err := importInto(db, *group, *streamFrom, files)
	if err == nil && *compact {
		err = db.Compact()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch import:", err)
		return 1
	}
	if !*quiet {
		el := time.Since(start)
		fmt.Printf("imported %d records into %s (%d streams) from %d files in %.2fs (%.0f records/s); skipped %d lines\n",
			st.records, *group, st.streams, len(files), el.Seconds(), float64(st.records)/el.Seconds(), st.skipped)
	}
	return 0
}

// importFiles expands directories into the text flow log files beneath
// them, in name order, so that an S3 export loads day by day.
func importFiles(args []string) ([]string, error) {
	return flowfile.ExpandSuffixes(args, []string{".log", ".gz", ".txt"})
}

type importStats struct {
	records, skipped int64
	streams          int
}

// importer loads records into one log group, creating streams on first
// use. Its methods are safe for concurrent use by file workers.
type importer struct {
	db         *logstore.DB
	group      string
	streamFrom string
	ingest     int64
	mu         sync.Mutex
	streams    map[string]bool
	records    atomic.Int64
	skipped    atomic.Int64
}

func importInto(db *logstore.DB, group, streamFrom string, files []string) (importStats, error) {
	im := &importer{db: db, group: group, streamFrom: streamFrom, ingest: time.Now().UnixMilli(), streams: map[string]bool{}}
	if err := db.CreateGroup(group, logstore.GroupMeta{CreationTime: im.ingest, Class: "STANDARD"}); err != nil && !errors.Is(err, logstore.ErrGroupExists) {
		return importStats{}, err
	}
	existing, err := db.Streams(group)
	if err != nil {
		return importStats{}, err
	}
	for _, s := range existing {
		im.streams[s.Name] = true
	}
	// Files decompress and parse in parallel; the store encodes on the
	// remaining CPU in its flushes.
	work := make(chan string)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for w := 0; w < max(1, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := im.file(f); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s: %w", f, err) })
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	im.mu.Lock()
	n := len(im.streams)
	im.mu.Unlock()
	return importStats{records: im.records.Load(), skipped: im.skipped.Load(), streams: n}, firstErr
}

func (im *importer) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	return im.read(r)
}

// defaultFields is the default (version 2) format.
var defaultFields = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")

// batchSize is the events per Import call: large enough that the store's
// lock is not contended, small enough to keep memory flat.
const batchSize = 8192

// read parses one file's records. The text is read in large chunks, each
// turned into one string that the records' messages slice, so a record
// costs no allocation of its own. Chunks are parsed by GOMAXPROCS workers
// while the next one is read (and decompressed): a single large file loads
// on every CPU, not one.
func (im *importer) read(r io.Reader) error {
	fields := defaultFields
	streamCol, startCol := -1, -1
	setFields := func(f []string) {
		fields = f
		streamCol, startCol = -1, -1
		for i, n := range f {
			if n == im.streamFrom {
				streamCol = i
			}
			if n == "start" {
				startCol = i
			}
		}
	}
	setFields(fields)
	chunks := make(chan string, 2)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var parseErr error
	failed := make(chan struct{})
	startWorkers := func() {
		for w := 0; w < max(1, runtime.GOMAXPROCS(0)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := im.parse(chunks, streamCol, startCol); err != nil {
					errOnce.Do(func() { parseErr = err; close(failed) })
					for range chunks { // drain so the reader does not block
					}
				}
			}()
		}
	}
	readErr := func() error {
		defer func() {
			close(chunks)
			wg.Wait()
		}()
		buf := make([]byte, 4<<20)
		carry := 0
		first := true
		for {
			n, err := io.ReadFull(r, buf[carry:])
			end := carry + n
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				if first {
					startWorkers()
				}
				return err
			}
			eof := err != nil
			last := bytes.LastIndexByte(buf[:end], '\n')
			if eof {
				last = end
			} else if last < 0 {
				// A line longer than the buffer: grow it.
				buf = append(buf[:end], make([]byte, len(buf))...)
				carry = end
				continue
			}
			text := string(buf[:last])
			if first {
				// The header, if any, is the first non-empty line; it sets
				// the field positions before any record is parsed.
				first = false
				rest := text
				for rest != "" {
					line, after, _ := strings.Cut(rest, "\n")
					if l := strings.TrimSuffix(line, "\r"); l != "" {
						if h := flowfile.HeaderFields(l); h != nil {
							setFields(h)
							text = after
						}
						break
					}
					rest = after
				}
				startWorkers()
			}
			select {
			case chunks <- text:
			case <-failed:
				return nil
			}
			if eof {
				return nil
			}
			carry = copy(buf, buf[last+1:end])
		}
	}()
	if readErr != nil {
		return readErr
	}
	if parseErr != nil {
		return parseErr
	}
	if streamCol < 0 {
		return fmt.Errorf("format has no field %q to name streams by (fields: %s)", im.streamFrom, strings.Join(fields, " "))
	}
	return nil
}

// pendingStream is a batch of one stream's records waiting for Import.
// The records' text is copied, while the line is in cache, into buf so
// that a batch's messages lie back to back: the store keeps such a batch
// as it is instead of gathering it from all over the file's chunks.
type pendingStream struct {
	name string
	evs  []logstore.Event
	buf  strings.Builder
}

// batchBytes bounds a batch's text (one allocation per batch).
const batchBytes = 1 << 20

// parse turns chunks of whole lines into per-stream batches for Import.
func (im *importer) parse(chunks <-chan string, streamCol, startCol int) error {
	pending := map[string]*pendingStream{}
	flush := func(p *pendingStream) error {
		if err := im.ensureStream(p.name); err != nil {
			return err
		}
		if err := im.db.Import(im.group, p.name, im.ingest, p.evs); err != nil {
			return err
		}
		im.records.Add(int64(len(p.evs)))
		// The store copied the events: the slice is free for the next
		// batch. The text is the store's now: the next batch gets a new one.
		clear(p.evs)
		p.evs = p.evs[:0]
		p.buf = strings.Builder{}
		return nil
	}
	var last *pendingStream
	for text := range chunks {
		skipped := int64(0)
		for len(text) > 0 {
			line := text
			if i := strings.IndexByte(text, '\n'); i >= 0 {
				line, text = text[:i], text[i+1:]
			} else {
				text = ""
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if line == "" {
				continue
			}
			stream, ts, ok := flowfile.RecordKey(line, streamCol, startCol)
			if !ok {
				skipped++
				continue
			}
			p := last
			if p == nil || p.name != stream {
				p = pending[stream]
				if p == nil {
					p = &pendingStream{name: stream, evs: make([]logstore.Event, 0, batchSize)}
					pending[stream] = p
				}
				last = p
			}
			if p.buf.Cap()-p.buf.Len() < len(line) {
				if len(p.evs) > 0 {
					if err := flush(p); err != nil {
						return err
					}
				}
				p.buf = strings.Builder{}
				p.buf.Grow(max(batchBytes, len(line)))
			}
			p.buf.WriteString(line) // within its capacity: earlier messages stay put
			all := p.buf.String()
			p.evs = append(p.evs, logstore.Event{Timestamp: ts, Message: all[len(all)-len(line):]})
			if len(p.evs) == batchSize {
				if err := flush(p); err != nil {
					return err
				}
			}
		}
		im.skipped.Add(skipped)
	}
	for _, p := range pending {
		if len(p.evs) > 0 {
			if err := flush(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (im *importer) ensureStream(s string) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.streams[s] {
		return nil
	}
	if err := im.db.CreateStream(im.group, s, im.ingest); err != nil && !errors.Is(err, logstore.ErrStreamExists) {
		return err
	}
	im.streams[s] = true
	return nil
}
