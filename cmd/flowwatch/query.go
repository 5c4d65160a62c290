package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/flowwatch/flowwatch/internal/flowfile"
	"github.com/flowwatch/flowwatch/internal/insights"
)

func init() {
	register("query", "run a Logs Insights query against a server or directly on flow log files", runQuery)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type queryOpts struct {
	format   string
	progress bool
	ptr      bool
	limit    int
	start    int64 // epoch ms; 0, 0: all time
	end      int64
}

func runQuery(args []string) int {
	fset := flag.NewFlagSet("query", flag.ContinueOnError)
	fset.Usage = func() {
		fmt.Fprintln(fset.Output(), "usage: flowwatch query [flags] 'QUERY'            (against a server)\n"+
			"       flowwatch query [flags] 'QUERY' FILE|DIR…  (directly on files)\n\n"+
			"Against a server the query goes through StartQuery/GetQueryResults, signed with the\n"+
			"AWS_* credentials and region of the environment (or the shared config files). On files,\n"+
			"it reads VPC flow log text (plain or .gz, with or without a header line), Parquet files\n"+
			"with the AWS flow log schema, NDJSON and whole S3 export trees (AWSLogs/…/vpcflowlogs/…).\n"+
			"Flow records get @timestamp = start×1000 and @logStream = interface-id.\n\nflags:")
		fset.PrintDefaults()
	}
	endpoint := fset.String("endpoint", os.Getenv("FLOWWATCH_ENDPOINT"), "server URL, e.g. http://127.0.0.1:4566 (default $FLOWWATCH_ENDPOINT)")
	var groups multiFlag
	fset.Var(&groups, "log-group", "log group to query (repeatable); with files, the name @log shows")
	start := fset.String("start", "", "start of the time range: RFC 3339, unix seconds or now-DURATION (default: all time)")
	end := fset.String("end", "", "end of the time range, inclusive (default: now)")
	since := fset.Duration("since", 0, "time range: the last DURATION (e.g. 1h); instead of --start/--end")
	format := fset.String("format", "table", "output: table, csv or json")
	limit := fset.Int("limit", 0, "maximum rows (StartQuery's limit; default: the query's limit or 10,000)")
	progress := fset.Bool("progress", false, "print a progress line on stderr even when it is not a terminal")
	ptr := fset.Bool("ptr", false, "include the @ptr column of non-aggregated rows")
	poll := fset.Duration("poll", 50*time.Millisecond, "GetQueryResults polling interval for the first 5s (then doubling up to 1s)")
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		return 2
	}
	if fset.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "flowwatch query: need a QUERY")
		fset.Usage()
		return 2
	}
	switch *format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(os.Stderr, "flowwatch query: --format %q: want table, csv or json\n", *format)
		return 2
	}
	o := queryOpts{format: *format, progress: *progress || isTerminal(os.Stderr), ptr: *ptr, limit: *limit}
	now := time.Now()
	var err error
	switch {
	case *since > 0:
		if *start != "" || *end != "" {
			fmt.Fprintln(os.Stderr, "flowwatch query: --since excludes --start and --end")
			return 2
		}
		o.start, o.end = now.Add(-*since).UnixMilli(), now.UnixMilli()
	case *start != "" || *end != "":
		o.start, o.end = 0, now.UnixMilli()
		if *start != "" {
			if o.start, err = parseQueryTime(*start, now); err != nil {
				fmt.Fprintln(os.Stderr, "flowwatch query: --start:", err)
				return 2
			}
		}
		if *end != "" {
			if o.end, err = parseQueryTime(*end, now); err != nil {
				fmt.Fprintln(os.Stderr, "flowwatch query: --end:", err)
				return 2
			}
		}
		if o.end < o.start {
			fmt.Fprintln(os.Stderr, "flowwatch query: --end is before --start")
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	text := fset.Arg(0)
	var res *insights.Result
	if fset.NArg() > 1 {
		res, err = queryFiles(ctx, text, fset.Args()[1:], groups, o)
	} else {
		if *endpoint == "" {
			fmt.Fprintln(os.Stderr, "flowwatch query: give FILEs to query, or --endpoint (or FLOWWATCH_ENDPOINT) for a server")
			return 2
		}
		if len(groups) == 0 && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "SOURCE") {
			fmt.Fprintln(os.Stderr, "flowwatch query: need --log-group (or a query starting with SOURCE)")
			return 2
		}
		res, err = queryServer(ctx, *endpoint, text, groups, o, *poll)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch query:", err)
		return 1
	}
	if err := printResult(os.Stdout, res, o); err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch query:", err)
		return 1
	}
	return 0
}

// reorderFlags moves flags after the positional arguments in front of them,
// so `flowwatch query 'QUERY' file.gz --format csv` works as people type it.
func reorderFlags(fset *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fset.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(append(flags, "--"), pos...)
}

// parseQueryTime reads RFC 3339, unix seconds, "now" or "now-DURATION".
func parseQueryTime(s string, now time.Time) (int64, error) {
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

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine rewrites one stderr line until done is called.
func progressLine(enabled bool, status func() string) (done func()) {
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
					fmt.Fprintf(os.Stderr, "\r%s\r", strings.Repeat(" ", width))
				}
				return
			case <-t.C:
				s := status()
				fmt.Fprintf(os.Stderr, "\r%-*s", width, s)
				width = max(width, len(s))
			}
		}
	}()
	return func() { close(stopc); <-finished }
}

// queryFiles runs the query on files with the engine in this process.
func queryFiles(ctx context.Context, text string, args []string, groups []string, o queryOpts) (*insights.Result, error) {
	q, err := insights.Parse(text)
	if err != nil {
		return nil, malformed(text, err)
	}
	files, err := flowfile.Expand(args)
	if err != nil {
		return nil, err
	}
	group := "files"
	if len(groups) > 0 {
		group = groups[0]
	}
	src := &flowfile.Source{Files: files}
	began := time.Now()
	done := progressLine(o.progress, func() string {
		p := src.Progress()
		el := time.Since(began).Seconds()
		return fmt.Sprintf("scanning: %d/%d files, %.1f MB read, %d records (%.0f records/s)",
			p.FilesDone, p.Files, float64(p.BytesRead)/1e6, p.Records, float64(p.Records)/max(el, 1e-9))
	})
	res, err := (&insights.Engine{}).Run(ctx, insights.Request{Query: q, Start: o.start, End: o.end, Limit: o.limit,
		Targets: []insights.Target{{Group: group, Log: "000000000000:" + group, Source: src}}})
	done()
	if err != nil {
		return nil, err
	}
	if o.progress {
		fmt.Fprintf(os.Stderr, "%.0f records matched, %.0f scanned, %.1f MB in %.2fs\n", res.Statistics.RecordsMatched,
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

// queryServer runs the query through StartQuery and polls GetQueryResults.
func queryServer(ctx context.Context, endpoint, text string, groups []string, o queryOpts, poll time.Duration) (*insights.Result, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := cwl.NewFromConfig(cfg, func(opt *cwl.Options) { opt.BaseEndpoint = aws.String(endpoint) })
	in := &cwl.StartQueryInput{QueryString: aws.String(text)}
	// Milliseconds: the service accepts them as well as seconds, and they
	// keep the range exact.
	in.StartTime, in.EndTime = aws.Int64(o.start), aws.Int64(o.end)
	if o.start == 0 && o.end == 0 {
		in.EndTime = aws.Int64(time.Now().UnixMilli())
	}
	if len(groups) > 0 {
		in.LogGroupNames = groups
	}
	if o.limit > 0 {
		in.Limit = aws.Int32(int32(o.limit))
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
	var last *cwl.GetQueryResultsOutput
	done := progressLine(o.progress, func() string {
		if last == nil || last.Statistics == nil {
			return "query scheduled"
		}
		st := last.Statistics
		return fmt.Sprintf("%s: %.0f records scanned, %.0f matched, %.1f MB (%.1fs)", last.Status, st.RecordsScanned,
			st.RecordsMatched, st.BytesScanned/1e6, time.Since(began).Seconds())
	})
	defer done()
	wait := poll
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
		last = r
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
			if o.progress {
				fmt.Fprintf(os.Stderr, "%.0f records matched, %.0f scanned, %.1f MB in %.2fs\n", res.Statistics.RecordsMatched,
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

func printResult(w io.Writer, res *insights.Result, o queryOpts) error {
	cols := columns(res, o.ptr)
	cells := make([][]string, len(res.Rows))
	present := make([][]bool, len(res.Rows))
	for i, row := range res.Rows {
		cells[i] = make([]string, len(cols))
		present[i] = make([]bool, len(cols))
		for _, f := range row {
			for j, c := range cols {
				if c == f.Field {
					cells[i][j], present[i][j] = f.Value, true
				}
			}
		}
	}
	switch o.format {
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
	for i := range cells {
		for j := range cols {
			cells[i][j] = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(cells[i][j])
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
