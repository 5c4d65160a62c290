package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/flowimport"
	"github.com/flowwatch/flowwatch/internal/logs"
	"github.com/flowwatch/flowwatch/internal/logstore"
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
	region := fset.String("region", logs.DefaultRegion, "region of the log group (log groups are per region)")
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
	if err := logs.CheckGroupName(*group); err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch import: --log-group:", awsapi.AsError(err).Message)
		return 2
	}
	if !awsapi.ValidRegion(*region) {
		fmt.Fprintf(os.Stderr, "flowwatch import: --region %q is not a region name (like us-east-1)\n", *region)
		return 2
	}
	name := *group
	*group = logs.StoreKey(*region, name)
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "flowwatch import: no --data-dir and no home directory to default to")
		return 2
	}
	files, err := flowimport.Files(fset.Args())
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
	// NoSync: stream creations need not each wait for an fsync; the parts'
	// commits make them durable.
	db, err := logstore.Open(logstore.Options{Dir: *dataDir, MergeParts: mergeParts, NoSync: true, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowwatch import:", err)
		return 1
	}
	// The load's buffers are reused, so the heap is mostly long-lived
	// pointer-free bytes: collect rarely, within a fixed budget that keeps
	// the load under 1 GiB.
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
	ingest := start.UnixMilli()
	if err := db.CreateGroup(*group, logstore.GroupMeta{CreationTime: ingest, Class: "STANDARD"}); err != nil && !errors.Is(err, logstore.ErrGroupExists) {
		db.Close()
		fmt.Fprintln(os.Stderr, "flowwatch import:", err)
		return 1
	}
	st, err := flowimport.Load(db, flowimport.Options{Group: *group, StreamFrom: *streamFrom, Ingest: ingest}, files)
	if err == nil && *compact {
		err = db.Compact()
	}
	streams := 0
	if ss, serr := db.Streams(*group); serr == nil {
		streams = len(ss)
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
			st.Records, name, streams, len(files), el.Seconds(), float64(st.Records)/el.Seconds(), st.Skipped)
	}
	return 0
}
