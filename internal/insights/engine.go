package insights

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Source is what the engine scans: a logstore.Store (which serves a group
// named in the ScanQuery) satisfies it. fn may be called concurrently from
// several goroutines, blocks in any order; a block is valid only during
// the call.
type Source interface {
	Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error
}

// Target is one log group a query reads.
type Target struct {
	Group  string // passed to Source.Scan and encoded in @ptr
	Log    string // the @log value: "<account-id>:<log-group-name>"
	Source Source
}

// Request is one query run.
type Request struct {
	Query   *Query
	Targets []Target
	// Start and End bound @timestamp in epoch milliseconds, both inclusive;
	// zero values mean unbounded.
	Start, End int64
	// Limit is StartQuery's limit: when set it replaces the query's final
	// limit command (1…MaxRows); 0 keeps the query's limit or DefaultRows.
	Limit int
	// Now is the query start time (now(), and the API's bookkeeping).
	Now time.Time
	// Progress, when set, receives running statistics during the scan.
	Progress func(Statistics)
}

// Statistics are GetQueryResults' statistics.
type Statistics struct {
	RecordsMatched float64 `json:"recordsMatched"`
	RecordsScanned float64 `json:"recordsScanned"`
	BytesScanned   float64 `json:"bytesScanned"`
}

// ResultField is one {field, value} cell, both strings as AWS sends them.
type ResultField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Result is a finished query: rows in order, each an ordered list of cells
// (absent fields are omitted, @ptr last on non-aggregated rows).
type Result struct {
	Rows       [][]ResultField
	Statistics Statistics
	// Columns lists the output columns in order (a row may lack some).
	Columns []string
}

// Engine runs parsed queries. The zero value is ready to use.
type Engine struct{}

// Run executes req. Cancelling ctx stops the scan and returns ctx.Err().
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	if req.Query == nil {
		return nil, errors.New("insights: no query")
	}
	if req.Limit < 0 || req.Limit > MaxRows {
		return nil, errors.New("insights: limit must be between 1 and 100000")
	}
	pl := newPlan(req.Query, req.Limit)
	env := &execEnv{now: req.Now, targets: req.Targets, pl: pl, start: req.Start, end: req.End}
	if env.now.IsZero() {
		env.now = time.Now()
	}
	if req.Start == 0 && req.End == 0 {
		env.start, env.end = logstore.MinTime, logstore.MaxTime-1
	}
	res := &Result{}
	recs, err := execute(ctx, env, &res.Statistics, req.Progress)
	if err != nil {
		return nil, err
	}
	if len(recs) > pl.cap {
		recs = recs[:pl.cap]
	}
	res.Columns = append([]string(nil), pl.columns...)
	if pl.ptr && !containsStr(res.Columns, "@ptr") {
		res.Columns = append(res.Columns, "@ptr")
	}
	for _, r := range recs {
		row := make([]ResultField, 0, len(res.Columns))
		for _, c := range res.Columns {
			if c == "@ptr" && pl.ptr {
				if s, ok := pl.slotOf[c]; ok && r.vals[s].K != KNull {
					row = append(row, ResultField{c, r.vals[s].String()})
					continue
				}
				row = append(row, ResultField{c, EncodePtr(req.Targets[r.tgt].Group, r.ts, r.seq)})
				continue
			}
			v := r.vals[pl.slotOf[c]]
			if v.K == KNull {
				continue
			}
			row = append(row, ResultField{c, v.String()})
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// Plan describes how a query reads the store, for tests and EXPLAIN-like
// tooling.
type Plan struct {
	Need  logstore.Columns
	Preds []logstore.TokenPred
	// TokenCols: the token columns read per block shape (ScanQuery.TokenCols).
	TokenCols map[int][]int
	// DictCols: those of which only the distinct values are read (ScanQuery.DictCols).
	DictCols map[int][]int
	// TokenParse is true when a parse reads the token columns directly.
	TokenParse bool
}

// Explain returns the store-facing part of the query plan.
func Explain(q *Query) Plan {
	pl := newPlan(q, 0)
	return Plan{Need: pl.need, Preds: pl.preds, TokenCols: pl.tokenCols, DictCols: pl.dictCols, TokenParse: pl.tokenParse != nil}
}

// EncodePtr builds the opaque @ptr of an event: group, timestamp and Seq,
// enough for GetLogRecord to find it again.
func EncodePtr(group string, ts int64, seq uint64) string {
	b := make([]byte, 0, len(group)+20)
	b = binary.AppendUvarint(b, uint64(len(group)))
	b = append(b, group...)
	b = binary.AppendVarint(b, ts)
	b = binary.AppendUvarint(b, seq)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePtr reverses EncodePtr.
func DecodePtr(ptr string) (group string, ts int64, seq uint64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(ptr)
	if err != nil {
		return "", 0, 0, errors.New("insights: malformed @ptr")
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", 0, 0, errors.New("insights: malformed @ptr")
	}
	group = string(b[k : k+int(n)])
	b = b[k+int(n):]
	ts, k = binary.Varint(b)
	if k <= 0 {
		return "", 0, 0, errors.New("insights: malformed @ptr")
	}
	seq, k2 := binary.Uvarint(b[k:])
	if k2 <= 0 || k+k2 != len(b) {
		return "", 0, 0, errors.New("insights: malformed @ptr")
	}
	return group, ts, seq, nil
}

// BlockSource serves in-memory blocks (files given to `flowwatch query`,
// tests, benchmarks), calling fn from up to Parallelism goroutines.
type BlockSource struct {
	Blocks      []*logstore.Block
	Parallelism int // 0: GOMAXPROCS
}

// Scan implements Source. Rows outside [q.Start, q.End) stay in the blocks;
// the engine drops them.
func (s *BlockSource) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	p := s.Parallelism
	if p <= 0 {
		p = runtime.GOMAXPROCS(0)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		ferr error
	)
	for range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if ferr != nil || next >= len(s.Blocks) {
					mu.Unlock()
					return
				}
				b := s.Blocks[next]
				next++
				mu.Unlock()
				err := ctx.Err()
				if err == nil {
					err = fn(b)
				}
				if err != nil {
					mu.Lock()
					if ferr == nil {
						ferr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return ferr
}

// BlocksOf cuts events into blocks of at most size rows (size ≤ 0: 8192).
func BlocksOf(events []logstore.StoredEvent, size int) []*logstore.Block {
	if size <= 0 {
		size = 8192
	}
	var out []*logstore.Block
	for off := 0; off < len(events); off += size {
		out = append(out, logstore.NewBlock(events[off:min(off+size, len(events))]))
	}
	return out
}
