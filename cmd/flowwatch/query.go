package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/insights"
	"github.com/flowwatch/flowwatch/internal/querycli"
)

func init() {
	register("query", "run a Logs Insights query against a server or directly on flow log files", runQuery)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

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
	region := fset.String("region", "", "region of the log groups (they are per region), for a server (default: AWS_REGION or the shared config, else us-east-1)")
	poll := fset.Duration("poll", 50*time.Millisecond, "GetQueryResults polling interval for the first 5s (then doubling up to 1s)")
	if err := fset.Parse(reorderFlags(fset, args)); err != nil {
		return 2
	}
	if fset.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "flowwatch query: need a QUERY")
		fset.Usage()
		return 2
	}
	if !slices.Contains(querycli.Formats, *format) {
		fmt.Fprintf(os.Stderr, "flowwatch query: --format %q: want table, csv or json\n", *format)
		return 2
	}
	o := querycli.Options{Format: *format, Progress: *progress || isTerminal(os.Stderr), Ptr: *ptr, Limit: *limit, Poll: *poll, Region: *region}
	var err error
	if o.Start, o.End, err = querycli.TimeRange(*start, *end, *since, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch query:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	text := fset.Arg(0)
	var res *insights.Result
	if fset.NArg() > 1 {
		res, err = querycli.Files(ctx, text, fset.Args()[1:], groups, o)
	} else {
		if *endpoint == "" {
			fmt.Fprintln(os.Stderr, "flowwatch query: give FILEs to query, or --endpoint (or FLOWWATCH_ENDPOINT) for a server")
			return 2
		}
		if len(groups) == 0 && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "SOURCE") {
			fmt.Fprintln(os.Stderr, "flowwatch query: need --log-group (or a query starting with SOURCE)")
			return 2
		}
		res, err = querycli.Server(ctx, *endpoint, text, groups, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch query:", err)
		return 1
	}
	if err := querycli.Print(os.Stdout, res, o); err != nil {
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

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
