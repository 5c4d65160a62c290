// Package querycli is the `flowwatch query` command's work: it runs a Logs
// Insights query either on flow log files, with the engine in process, or
// against a server through StartQuery/GetQueryResults like any AWS client,
// shows progress on stderr, and prints the result as an aligned table, CSV
// or JSON. cmd/flowwatch only parses the command line.
package querycli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/insights"
)

// Formats are the output formats Print knows.
var Formats = []string{"table", "csv", "json"}

// Options shape a query run and its output.
type Options struct {
	Format   string // table (default), csv or json
	Progress bool   // a progress line and a summary on Stderr
	Ptr      bool   // print the @ptr column
	Limit    int    // StartQuery's limit; 0: the query's own or 10,000
	// Start and End bound @timestamp in epoch ms, inclusive; 0, 0: all time.
	Start, End int64
	// Poll is the GetQueryResults interval for the first 5 s, doubling up
	// to 1 s after; 0: 50 ms.
	Poll time.Duration
	// Region signs the server requests for this region (log groups are
	// per region); "": the environment's, else us-east-1.
	Region string
	Stderr io.Writer // os.Stderr when nil
}

func (o Options) stderr() io.Writer {
	if o.Stderr == nil {
		return os.Stderr
	}
	return o.Stderr
}

// TimeRange turns the command's --start, --end and --since into Start and
// End: the last since, or start (default: all time) to end (default: now),
// or all time when none is given.
func TimeRange(start, end string, since time.Duration, now time.Time) (startMs, endMs int64, err error) {
	switch {
	case since > 0:
		if start != "" || end != "" {
			return 0, 0, errors.New("--since excludes --start and --end")
		}
		return now.Add(-since).UnixMilli(), now.UnixMilli(), nil
	case start == "" && end == "":
		return 0, 0, nil
	}
	startMs, endMs = 0, now.UnixMilli()
	if start != "" {
		if startMs, err = ParseTime(start, now); err != nil {
			return 0, 0, fmt.Errorf("--start: %w", err)
		}
	}
	if end != "" {
		if endMs, err = ParseTime(end, now); err != nil {
			return 0, 0, fmt.Errorf("--end: %w", err)
		}
	}
	if endMs < startMs {
		return 0, 0, errors.New("--end is before --start")
	}
	return startMs, endMs, nil
}

// ParseTime reads RFC 3339, unix seconds, "now" or "now-DURATION".
func ParseTime(s string, now time.Time) (int64, error) {
	if s == "now" {
		return now.UnixMilli(), nil
	}
	if d, ok := strings.CutPrefix(s, "now-"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return 0, err
		}
		return now.Add(-dur).UnixMilli(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n * 1000, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q: want RFC 3339, unix seconds, now or now-DURATION", s)
	}
	return t.UnixMilli(), nil
}

// progressLine rewrites one stderr line until done is called.
func progressLine(w io.Writer, enabled bool, status func() string) (done func()) {
	if !enabled {
		return func() {}
	}
	stopc, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		width := 0
		for {
			select {
			case <-stopc:
				if width > 0 {
					fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", width))
				}
				return
			case <-t.C:
				s := status()
				fmt.Fprintf(w, "\r%-*s", width, s)
				width = max(width, len(s))
			}
		}
	}()
	// Idempotent: Server calls it before its summary and again deferred.
	var once sync.Once
	return func() { once.Do(func() { close(stopc); <-finished }) }
}

// Files runs the query on flow log files (flowfile.Expand: plain, .gz,
// Parquet, NDJSON, S3 export trees) with the engine in this process.
func Files(ctx context.Context, text string, paths []string, groups []string, o Options) (*insights.Result, error) {
	q, err := insights.Parse(text)
	if err != nil {
		return nil, malformed(text, err)
	}
	files, err := flowfile.Expand(paths)
	if err != nil {
		return nil, err
	}
	group := "files"
	if len(groups) > 0 {
		group = groups[0]
	}
	src := &flowfile.Source{Files: files}
	began := time.Now()
	done := progressLine(o.stderr(), o.Progress, func() string {
		p := src.Progress()
		el := time.Since(began).Seconds()
		return fmt.Sprintf("scanning: %d/%d files, %.1f MB read, %d records (%.0f records/s)",
			p.FilesDone, p.Files, float64(p.BytesRead)/1e6, p.Records, float64(p.Records)/max(el, 1e-9))
	})
	res, err := (&insights.Engine{}).Run(ctx, insights.Request{Query: q, Start: o.Start, End: o.End, Limit: o.Limit,
		Targets: []insights.Target{{Group: group, Log: "000000000000:" + group, Source: src}}})
	done()
	if err != nil {
		return nil, err
	}
	if o.Progress {
		fmt.Fprintf(o.stderr(), "%.0f records matched, %.0f scanned, %.1f MB in %.2fs\n", res.Statistics.RecordsMatched,
			res.Statistics.RecordsScanned, res.Statistics.BytesScanned/1e6, time.Since(began).Seconds())
	}
	return res, nil
}

// malformed shows where a query fails to parse, under the query's line.
func malformed(text string, err error) error {
	var pe *insights.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	lines := strings.Split(text, "\n")
	if pe.Line >= 1 && pe.Line <= len(lines) {
		l := lines[pe.Line-1]
		return fmt.Errorf("malformed query: %s\n  %s\n  %s^", pe.Error(), l, strings.Repeat(" ", max(0, pe.Column-1)))
	}
	return fmt.Errorf("malformed query: %w", err)
}

// Server runs the query on the server at endpoint through StartQuery and
// polls GetQueryResults, signed with the environment's AWS credentials and
// o.Region or the environment's region (us-east-1 when none is configured).
func Server(ctx context.Context, endpoint, text string, groups []string, o Options) (*insights.Result, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if o.Region != "" {
		cfg.Region = o.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := cwl.NewFromConfig(cfg, func(opt *cwl.Options) { opt.BaseEndpoint = aws.String(endpoint) })
	in := &cwl.StartQueryInput{QueryString: aws.String(text)}
	// Milliseconds: the service accepts them as well as seconds, and they
	// keep the range exact.
	in.StartTime, in.EndTime = aws.Int64(o.Start), aws.Int64(o.End)
	if o.Start == 0 && o.End == 0 {
		in.EndTime = aws.Int64(time.Now().UnixMilli())
	}
	if len(groups) > 0 {
		in.LogGroupNames = groups
	}
	if o.Limit > 0 {
		in.Limit = aws.Int32(int32(o.Limit))
	}
	began := time.Now()
	out, err := c.StartQuery(ctx, in)
	if err != nil {
		var mq *cwltypes.MalformedQueryException
		if errors.As(err, &mq) {
			return nil, fmt.Errorf("malformed query: %s", aws.ToString(mq.Message))
		}
		return nil, err
	}
	id := out.QueryId
	// The progress goroutine reads the last answer while polls replace it.
	var lastSeen atomic.Pointer[cwl.GetQueryResultsOutput]
	done := progressLine(o.stderr(), o.Progress, func() string {
		last := lastSeen.Load()
		if last == nil || last.Statistics == nil {
			return "query scheduled"
		}
		st := last.Statistics
		return fmt.Sprintf("%s: %.0f records scanned, %.0f matched, %.1f MB (%.1fs)", last.Status, st.RecordsScanned,
			st.RecordsMatched, st.BytesScanned/1e6, time.Since(began).Seconds())
	})
	defer done()
	wait := o.Poll
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	for {
		r, err := c.GetQueryResults(ctx, &cwl.GetQueryResultsInput{QueryId: id})
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted: stop the query on the server too.
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c.StopQuery(sctx, &cwl.StopQueryInput{QueryId: id})
				cancel()
			}
			return nil, err
		}
		last := r
		lastSeen.Store(r)
		switch r.Status {
		case cwltypes.QueryStatusComplete:
			res := &insights.Result{}
			for {
				for _, row := range r.Results {
					cells := make([]insights.ResultField, 0, len(row))
					for _, f := range row {
						cells = append(cells, insights.ResultField{Field: aws.ToString(f.Field), Value: aws.ToString(f.Value)})
					}
					res.Rows = append(res.Rows, cells)
				}
				if r.NextToken == nil {
					break
				}
				if r, err = c.GetQueryResults(ctx, &cwl.GetQueryResultsInput{QueryId: id, NextToken: r.NextToken}); err != nil {
					return nil, err
				}
			}
			if st := last.Statistics; st != nil {
				res.Statistics = insights.Statistics{RecordsMatched: st.RecordsMatched, RecordsScanned: st.RecordsScanned, BytesScanned: st.BytesScanned}
			}
			done()
			if o.Progress {
				fmt.Fprintf(o.stderr(), "%.0f records matched, %.0f scanned, %.1f MB in %.2fs\n", res.Statistics.RecordsMatched,
					res.Statistics.RecordsScanned, res.Statistics.BytesScanned/1e6, time.Since(began).Seconds())
			}
			return res, nil
		case cwltypes.QueryStatusScheduled, cwltypes.QueryStatusRunning:
		default:
			return nil, fmt.Errorf("query %s ended with status %s", aws.ToString(id), r.Status)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.StopQuery(sctx, &cwl.StopQueryInput{QueryId: id})
			cancel()
			return nil, ctx.Err()
		}
		// Short queries are answered within one interval; long ones are
		// not worth polling often.
		if time.Since(began) > 5*time.Second {
			wait = max(wait, min(2*wait, time.Second))
		}
	}
}

// columns are the result's fields in order of first appearance (rows can
// lack fields; @ptr only with --ptr).
func columns(res *insights.Result, ptr bool) []string {
	var cols []string
	seen := map[string]bool{}
	for _, c := range res.Columns {
		if !seen[c] && (ptr || c != "@ptr") {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	for _, row := range res.Rows {
		for _, f := range row {
			if !seen[f.Field] && (ptr || f.Field != "@ptr") {
				seen[f.Field] = true
				cols = append(cols, f.Field)
			}
		}
	}
	return cols
}

// Print writes res in o.Format: an aligned table (the default), CSV, or
// a JSON array of objects; @ptr only with o.Ptr.
func Print(w io.Writer, res *insights.Result, o Options) error {
	cols := columns(res, o.Ptr)
	col := make(map[string]int, len(cols))
	for j, c := range cols {
		col[c] = j
	}
	cells := make([][]string, len(res.Rows))
	present := make([][]bool, len(res.Rows))
	for i, row := range res.Rows {
		cells[i] = make([]string, len(cols))
		present[i] = make([]bool, len(cols))
		for _, f := range row {
			if j, ok := col[f.Field]; ok {
				cells[i][j], present[i][j] = f.Value, true
			}
		}
	}
	switch o.Format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(cols)
		cw.WriteAll(cells)
		return cw.Error()
	case "json":
		// An array of objects, keys in column order, absent fields left out
		// as GetQueryResults leaves them out.
		var b strings.Builder
		b.WriteString("[")
		for i := range cells {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  {")
			n := 0
			for j, c := range cols {
				if !present[i][j] {
					continue
				}
				if n > 0 {
					b.WriteString(", ")
				}
				n++
				k, _ := json.Marshal(c)
				v, _ := json.Marshal(cells[i][j])
				b.Write(k)
				b.WriteString(": ")
				b.Write(v)
			}
			b.WriteString("}")
		}
		if len(cells) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("]\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	// table: columns as wide as their widest cell; one line per row with
	// newlines in values shown as spaces.
	width := make([]int, len(cols))
	for j, c := range cols {
		width[j] = utf8.RuneCountInString(c)
	}
	oneLine := strings.NewReplacer("\n", " ", "\r", " ", "\t", " ")
	for i := range cells {
		for j := range cols {
			cells[i][j] = oneLine.Replace(cells[i][j])
			width[j] = max(width[j], utf8.RuneCountInString(cells[i][j]))
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		for j, v := range vals {
			if j > 0 {
				b.WriteString("  ")
			}
			b.WriteString(v)
			if j < len(vals)-1 {
				b.WriteString(strings.Repeat(" ", width[j]-utf8.RuneCountInString(v)))
			}
		}
		b.WriteString("\n")
	}
	line(cols)
	sep := make([]string, len(cols))
	for j := range cols {
		sep[j] = strings.Repeat("-", width[j])
	}
	line(sep)
	for i := range cells {
		line(cells[i])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
