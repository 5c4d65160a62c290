package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowgen"
	"github.com/klauspost/compress/gzip"
)

func init() {
	register("gen", "generate realistic synthetic VPC flow log records", runGen)
}

func runGen(args []string) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: flowwatch gen [flags]\n\nWrites deterministic synthetic flow log records (same flags, same output).\n\nflags:")
		fs.PrintDefaults()
	}
	records := fs.Uint64("records", 1000, "number of records")
	seed := fs.Uint64("seed", 1, "random seed")
	format := fs.String("format", "default", "LogFormat ('${version} ${srcaddr} …'), or 'default'")
	ifaces := fs.Int("interfaces", 64, "number of network interfaces")
	peers := fs.Int("peers", 100000, "number of distinct remote addresses (Zipf-distributed)")
	start := fs.String("start", flowgen.DefaultStart.Format(time.RFC3339), "simulated start time: RFC 3339, unix seconds, 'now' or 'now-DURATION'")
	rate := fs.Float64("rate", 1000, "records per second of simulated time")
	interval := fs.Int("interval", 60, "aggregation interval in seconds (60 or 600)")
	account := fs.String("account-id", "000000000000", "account id")
	region := fs.String("region", "us-east-1", "region")
	out := fs.String("out", "-", "output file ('-' for stdout, .gz compresses); a directory with --layout s3")
	layout := fs.String("layout", "", "'s3' writes the AWS S3 export layout under --out DIR")
	flowLogID := fs.String("flow-log-id", "", "flow log id in S3 object names (default derived from the seed)")
	hive := fs.Bool("hive", false, "with --layout s3: Hive-compatible partition names (aws-account-id=…/year=…)")
	perHour := fs.Bool("per-hour", false, "with --layout s3: an hour level in the keys")
	header := fs.Bool("header", false, "write the S3 header line first (always on with --layout s3)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "flowwatch gen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "flowwatch gen:", err)
		return 1
	}
	f, err := formatFlag(*format)
	if err != nil {
		return fail(err)
	}
	t0, err := parseStart(*start, time.Now())
	if err != nil {
		return fail(err)
	}
	g, err := flowgen.New(flowgen.Config{Seed: *seed, Interfaces: *ifaces, Peers: *peers, Start: t0,
		Rate: *rate, Interval: *interval, AccountID: *account, Region: *region})
	if err != nil {
		return fail(err)
	}
	switch *layout {
	case "s3":
		if *out == "-" {
			return fail(fmt.Errorf("--layout s3 needs --out DIR"))
		}
		paths, err := flowgen.WriteS3(*out, g, f, *records, flowgen.S3Options{FlowLogID: *flowLogID, Hive: *hive, PerHour: *perHour})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(os.Stderr, "flowwatch gen: %d records in %d objects under %s\n", *records, len(paths), *out)
		return 0
	case "":
	default:
		return fail(fmt.Errorf("--layout: unknown layout %q (want s3)", *layout))
	}
	var w io.Writer = os.Stdout
	var closers []func() error
	if *out != "-" {
		fh, err := os.Create(*out)
		if err != nil {
			return fail(err)
		}
		w = fh
		closers = append(closers, fh.Close)
		if strings.HasSuffix(*out, ".gz") {
			// One gzip member per MiB, compressed on every core.
			zw := flowgen.NewParallelGzip(fh, gzip.BestSpeed, 0)
			w = zw
			closers = append([]func() error{zw.Close}, closers...)
		}
	} else {
		bw := bufio.NewWriterSize(os.Stdout, 1<<20)
		w = bw
		closers = append(closers, bw.Flush)
	}
	err = flowgen.WriteText(w, g, f, *records, *header)
	for _, c := range closers {
		if cerr := c(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// parseStart accepts RFC 3339, unix seconds, "now" and "now-1h30m" so that
// data for the API (which rejects events older than 14 days) is easy to make.
func parseStart(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now.Truncate(time.Second), nil
	}
	if d, ok := strings.CutPrefix(s, "now-"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return time.Time{}, fmt.Errorf("--start: %w", err)
		}
		return now.Add(-dur).Truncate(time.Second), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start: want RFC 3339, unix seconds or now[-DURATION]: %q", s)
	}
	return t, nil
}
