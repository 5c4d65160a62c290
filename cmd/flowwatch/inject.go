package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/delivery"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

func init() {
	register("inject", "hand flow log records to a server's delivery, as capture would (tests, replays)", runInject)
}

// runInject reads record lines and spools them into the data directory's
// delivery inbox; the server using that directory (running or started
// later) delivers them to every flow log whose resource covers their
// interface-id, as if capture had just closed their window.
func runInject(args []string) int {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of the server that delivers the records")
	format := fs.String("log-format", flowlog.DefaultFormatString, "format of the input lines (a LogFormat); a header line naming the fields is skipped")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: flowwatch inject [flags] [FILE...]\n\n"+
			"Reads flow log record lines (from FILEs or standard input) and hands them to the delivery of the\n"+
			"server on --data-dir. Interface metadata missing from the lines (vpc-id, subnet-id, instance-id,\n"+
			"region) is filled from the server's inventory.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	f, err := flowlog.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flowwatch inject: --log-format: %v\n", err)
		return 2
	}
	var recs []flowlog.Record
	// flush hands over what has been read. Reading from a pipe (flowwatch
	// capture | flowwatch inject), it runs whenever the writer pauses, so
	// each closed window is delivered as it comes.
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		name, err := delivery.WriteInbox(*dataDir, recs)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "flowwatch inject: %d records spooled as %s\n", len(recs), name)
		recs = recs[:0]
		return nil
	}
	read := func(r io.Reader, name string) error {
		// A reader goroutine feeds lines; a pause of linger in the input
		// ends a batch, so the lines of one closed window (which a writer
		// may print one by one) are handed over together.
		type item struct {
			line string
			err  error
		}
		lines := make(chan item, 1024)
		go func() {
			br := bufio.NewReaderSize(r, 1<<20)
			for {
				line, err := br.ReadString('\n')
				if line != "" {
					lines <- item{line: line}
				}
				if err != nil {
					lines <- item{err: err}
					close(lines)
					return
				}
			}
		}()
		const linger = 200 * time.Millisecond
		idle := time.NewTimer(linger)
		defer idle.Stop()
		for n := 1; ; {
			select {
			case it := <-lines:
				if it.err == io.EOF {
					return flush()
				}
				if it.err != nil {
					return it.err
				}
				if line := strings.TrimSpace(it.line); line != "" && line != f.Header() {
					rec, err := flowlog.ParseLine(line, f)
					if err != nil {
						return fmt.Errorf("%s:%d: %w", name, n, err)
					}
					recs = append(recs, rec)
				}
				n++
				idle.Reset(linger)
			case <-idle.C:
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if fs.NArg() == 0 {
		err = read(os.Stdin, "stdin")
	}
	for _, path := range fs.Args() {
		var fh *os.File
		if fh, err = os.Open(path); err == nil {
			err = read(fh, path)
			fh.Close()
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "flowwatch inject: %v\n", err)
		return 1
	}
	return 0
}
