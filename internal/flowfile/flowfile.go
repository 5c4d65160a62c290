// Package flowfile reads log files as events for `flowwatch query`: VPC flow
// log text (plain or gzip, with or without the S3 header line), Parquet
// files with the AWS flow log schema, NDJSON, and whole directory trees
// such as an S3 export (AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/).
// Events get what the store would give them on import: a flow record's
// timestamp is start×1000 and its stream the interface-id. Source serves the
// files to the Insights engine as column blocks, read in parallel and never
// held in memory all at once.
package flowfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Kind is a file's content type.
type Kind uint8

const (
	KindText    Kind = iota // lines: flow log records, or any text
	KindNDJSON              // one JSON object per line
	KindParquet             // Parquet with the flow log schema
)

// suffixes are the names Expand picks up in directories.
var suffixes = []string{".log", ".log.gz", ".gz", ".txt", ".parquet", ".json", ".json.gz", ".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"}

// Expand turns arguments into files: files as given, directories searched
// recursively for log files, in name order (an S3 export reads day by day).
func Expand(args []string) ([]string, error) { return ExpandSuffixes(args, suffixes) }

// ExpandSuffixes is Expand picking up in directories only names ending in
// one of suffixes.
func ExpandSuffixes(args []string, suffixes []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			for _, s := range suffixes {
				if strings.HasSuffix(d.Name(), s) {
					found = append(found, p)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no log files (%s) found", a, strings.Join(suffixes, ", "))
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// KindOf guesses a file's kind from its name; text files whose first line
// is a JSON object are read as NDJSON (see LineReader).
func KindOf(path string) Kind {
	p := strings.TrimSuffix(path, ".gz")
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return KindParquet
	case strings.HasSuffix(p, ".json"), strings.HasSuffix(p, ".ndjson"), strings.HasSuffix(p, ".jsonl"):
		return KindNDJSON
	}
	return KindText
}

// Reader turns a file's lines into events. It keeps the state a file
// carries from line to line (the header's field positions), so one Reader
// reads one file. Fallback is the timestamp of lines that have none (the
// file's modification time, also every event's ingestion time) and Stream
// the stream of lines that name none.
type Reader struct {
	Fallback int64
	Stream   string

	header    bool // the first line was looked at
	json      bool
	streamCol int
	startCol  int
	// assumed: no header named the fields, so only lines with the default
	// format's 14 fields are read as default-format records; others (a
	// custom format without its header) keep the fallback time.
	assumed bool
}

// NewReader returns a Reader for one file.
func NewReader(kind Kind, fallback int64, stream string) *Reader {
	r := &Reader{Fallback: fallback, Stream: stream, json: kind == KindNDJSON}
	r.setFields(DefaultFields)
	r.assumed = true
	return r
}

// DefaultFields are the field names of the default (version 2) format,
// which files without a header line are read in. Not to be modified.
var DefaultFields = strings.Fields(flowlog.DefaultFormat.Header())

func (r *Reader) setFields(f []string) {
	r.streamCol, r.startCol = -1, -1
	for i, n := range f {
		switch n {
		case "interface-id":
			r.streamCol = i
		case "start":
			r.startCol = i
		}
	}
}

// HeaderFields returns the field names of a flow log header line, or nil
// when the line is a record.
func HeaderFields(line string) []string {
	toks := strings.Fields(line)
	if len(toks) == 0 {
		return nil
	}
	known := 0
	for _, t := range toks {
		if _, ok := flowlog.Lookup(t); ok {
			known++
		}
	}
	if toks[0] == "version" || known*2 > len(toks) {
		return toks
	}
	return nil
}

// Line turns one line into an event; ok is false for lines that are not
// events (blank lines, the header).
func (r *Reader) Line(line string) (ev logstore.StoredEvent, ok bool) {
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return ev, false
	}
	if !r.header {
		r.header = true
		if strings.HasPrefix(line, "{") {
			r.json = true
		} else if h := HeaderFields(line); h != nil && !r.json {
			r.setFields(h)
			r.assumed = false
			return ev, false
		}
	}
	if r.json {
		return r.jsonLine(line), true
	}
	ev = logstore.StoredEvent{Stream: r.Stream, Timestamp: r.Fallback, IngestionTime: r.Fallback, Message: line}
	if r.assumed && strings.Count(line, " ") != len(DefaultFields)-1 {
		return ev, true
	}
	if stream, ts, ok := RecordKey(line, r.streamCol, r.startCol); ok {
		ev.Stream, ev.Timestamp = stream, ts
	}
	return ev, true
}

// RecordKey finds a flow record's stream (interface-id) and timestamp
// (start×1000) without splitting the whole line.
func RecordKey(line string, streamCol, startCol int) (stream string, ts int64, ok bool) {
	if startCol < 0 {
		return "", 0, false
	}
	var startTok string
	need := 1
	if streamCol >= 0 {
		need = 2
	}
	found := 0
	// Token by token with IndexByte (vectorised): a bulk import calls
	// this for every record.
	for col, begin := 0, 0; found < need; col++ {
		end := len(line)
		i := strings.IndexByte(line[begin:], ' ')
		if i >= 0 {
			end = begin + i
		}
		tok := line[begin:end]
		if col == streamCol {
			stream = tok
			found++
		}
		if col == startCol {
			startTok = tok
			found++
		}
		if i < 0 {
			break
		}
		begin = end + 1
	}
	if found < need {
		return "", 0, false
	}
	return KeyFromTokens(stream, startTok)
}

// KeyFromTokens is RecordKey given the stream and start tokens, for
// callers that have split the line already.
func KeyFromTokens(stream, startTok string) (string, int64, bool) {
	start, ok := parseDecimal(startTok)
	if !ok {
		return "", 0, false
	}
	if stream == "" || stream == "-" {
		stream = "unknown"
	}
	return stream, start * 1000, true
}

// parseDecimal is strconv.ParseInt(s, 10, 64) with a fast path for the
// plain digits of a flow record's start.
func parseDecimal(s string) (int64, bool) {
	if n := len(s); n > 0 && n <= 18 {
		var v int64
		for i := 0; i < n; i++ {
			d := s[i] - '0'
			if d > 9 {
				goto slow
			}
			v = v*10 + int64(d)
		}
		return v, true
	}
slow:
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// jsonLine is an NDJSON event: an object with a string "message" is a
// CloudWatch Logs event as the API and exports carry it (message,
// timestamp in ms, logStream); any other line is the message itself, with
// its "timestamp" or "@timestamp" member as the time when it has one.
func (r *Reader) jsonLine(line string) logstore.StoredEvent {
	ev := logstore.StoredEvent{Stream: r.Stream, Timestamp: r.Fallback, IngestionTime: r.Fallback, Message: line}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &obj) != nil {
		return ev
	}
	if raw, ok := obj["message"]; ok {
		var msg string
		if json.Unmarshal(raw, &msg) == nil {
			ev.Message = msg
			var s string
			if raw, ok := obj["logStream"]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
				ev.Stream = s
			} else if raw, ok := obj["logStreamName"]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
				ev.Stream = s
			}
		}
	}
	for _, k := range []string{"timestamp", "@timestamp"} {
		if raw, ok := obj[k]; ok {
			if ts, ok := jsonTime(raw); ok {
				ev.Timestamp = ts
				break
			}
		}
	}
	return ev
}

// jsonTime reads a time member: a number of epoch milliseconds, or an RFC
// 3339 string.
func jsonTime(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		if f, err := n.Float64(); err == nil {
			return int64(f), true
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixMilli(), true
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

// ReadFile reads the events of one file, calling fn with batches of at
// most batch events (the slice is reused after fn returns; strings are
// not). counted receives the bytes read from disk as they are read.
func ReadFile(ctx context.Context, path string, batch int, counted *atomic.Int64, fn func([]logstore.StoredEvent) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	mtime := st.ModTime().UnixMilli()
	stream := filepath.Base(path)
	kind := KindOf(path)
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n == 4 && string(magic[:]) == "PAR1" {
		kind = KindParquet
	}
	rd := NewReader(kind, mtime, stream)
	if kind == KindParquet {
		return readParquet(ctx, f, st.Size(), rd, batch, counted, fn)
	}
	var r io.Reader = &countingReader{r: f, n: counted}
	r = bufio.NewReaderSize(r, 1<<20)
	if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	return ReadLines(ctx, r, rd, batch, fn)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n != nil {
		c.n.Add(int64(n))
	}
	return n, err
}

// ReadLines reads text lines from r through rd. The text is read in large
// chunks, each one string that the events' messages slice, so an event
// costs no allocation of its own.
func ReadLines(ctx context.Context, r io.Reader, rd *Reader, batch int, fn func([]logstore.StoredEvent) error) error {
	if batch <= 0 {
		batch = 8192
	}
	evs := make([]logstore.StoredEvent, 0, batch)
	buf := make([]byte, 4<<20)
	carry := 0
	for {
		n, err := io.ReadFull(r, buf[carry:])
		end := carry + n
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
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
		for len(text) > 0 {
			line := text
			if i := strings.IndexByte(text, '\n'); i >= 0 {
				line, text = text[:i], text[i+1:]
			} else {
				text = ""
			}
			ev, ok := rd.Line(line)
			if !ok {
				continue
			}
			evs = append(evs, ev)
			if len(evs) == batch {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(evs); err != nil {
					return err
				}
				evs = evs[:0]
			}
		}
		if eof {
			break
		}
		if last < end {
			carry = copy(buf, buf[last+1:end])
		} else {
			carry = 0
		}
	}
	if len(evs) > 0 {
		return fn(evs)
	}
	return nil
}

// readParquet turns Parquet rows back into flow log text lines in the
// file's column order (null integers as "-", as in the text files), so
// they are queried exactly like the text form of the same records.
func readParquet(ctx context.Context, f *os.File, size int64, rd *Reader, batch int, counted *atomic.Int64, fn func([]logstore.StoredEvent) error) error {
	pf, err := parquet.OpenFile(f, size)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	if counted != nil {
		counted.Add(size)
	}
	cols := pf.Schema().Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.ReplaceAll(c[len(c)-1], "_", "-")
	}
	rd.setFields(names)
	rd.header, rd.assumed = true, false
	if batch <= 0 {
		batch = 8192
	}
	pr := parquet.NewReader(pf)
	defer pr.Close()
	rows := make([]parquet.Row, 1024)
	evs := make([]logstore.StoredEvent, 0, batch)
	var line []byte
	vals := make([][]byte, len(cols))
	for {
		n, err := pr.ReadRows(rows)
		for _, row := range rows[:n] {
			for i := range vals {
				vals[i] = append(vals[i][:0], '-')
			}
			for _, v := range row {
				c := v.Column()
				if c < 0 || c >= len(vals) || v.IsNull() {
					continue
				}
				switch v.Kind() {
				case parquet.Int32:
					vals[c] = strconv.AppendInt(vals[c][:0], int64(v.Int32()), 10)
				case parquet.Int64:
					vals[c] = strconv.AppendInt(vals[c][:0], v.Int64(), 10)
				case parquet.ByteArray, parquet.FixedLenByteArray:
					if b := v.ByteArray(); len(b) > 0 {
						vals[c] = append(vals[c][:0], b...)
					}
				default:
					vals[c] = append(vals[c][:0], v.String()...)
				}
			}
			line = line[:0]
			for i, v := range vals {
				if i > 0 {
					line = append(line, ' ')
				}
				line = append(line, v...)
			}
			if ev, ok := rd.Line(string(line)); ok {
				evs = append(evs, ev)
			}
			if len(evs) == batch {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(evs); err != nil {
					return err
				}
				evs = evs[:0]
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
	}
	if len(evs) > 0 {
		return fn(evs)
	}
	return nil
}

// Progress is how far a scan has got.
type Progress struct {
	Files, FilesDone int
	BytesRead        int64 // bytes read from disk (compressed size for .gz)
	Records          int64
}

// Source serves files to the query engine (insights.Source): files are read
// by up to Parallelism goroutines, and their events cut into blocks that the
// engine processes as they come.
type Source struct {
	Files       []string
	Parallelism int // 0: GOMAXPROCS
	BlockRows   int // 0: 8192

	bytes, records atomic.Int64
	filesDone      atomic.Int64
	seq            atomic.Uint64
}

// Progress reports the scan's progress so far; safe to call during Scan.
func (s *Source) Progress() Progress {
	return Progress{Files: len(s.Files), FilesDone: int(s.filesDone.Load()), BytesRead: s.bytes.Load(), Records: s.records.Load()}
}

// Scan implements insights.Source. Every file belongs to the one log group
// queried; q's time range is left to the engine.
func (s *Source) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	p := s.Parallelism
	if p <= 0 {
		p = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	// Readers decompress and split lines; block workers build the column
	// blocks (tokenising every line) and run the engine on them, so even a
	// single large .gz file keeps every core busy.
	files := make(chan string)
	batches := make(chan []logstore.StoredEvent, 2*p)
	var readers, workers sync.WaitGroup
	for range p {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for path := range files {
				err := ReadFile(ctx, path, s.BlockRows, &s.bytes, func(evs []logstore.StoredEvent) error {
					// Seq numbers are unique across files, increasing in
					// file order, as an import would assign them.
					base := s.seq.Add(uint64(len(evs))) - uint64(len(evs))
					batch := make([]logstore.StoredEvent, len(evs))
					copy(batch, evs)
					for i := range batch {
						batch[i].Seq = base + uint64(i)
					}
					select {
					case batches <- batch:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				if err != nil {
					if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
						fail(fmt.Errorf("%s: %w", path, err))
					}
					return
				}
				s.filesDone.Add(1)
			}
		}()
		workers.Add(1)
		go func() {
			defer workers.Done()
			for batch := range batches {
				if ctx.Err() != nil {
					continue // drain, so readers never block
				}
				if err := fn(logstore.NewBlock(batch)); err != nil {
					fail(err)
					continue
				}
				s.records.Add(int64(len(batch)))
			}
		}()
	}
	for _, f := range s.Files {
		select {
		case files <- f:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(files)
	readers.Wait()
	close(batches)
	workers.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
