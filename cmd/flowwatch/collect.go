package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/flowwatch/flowwatch/internal/agent"
	"github.com/flowwatch/flowwatch/internal/collector"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

func init() {
	register("collect", "receive NetFlow v5/v9, IPFIX and sFlow from routers and print flow log records", runCollect)
}

func runCollect(args []string) int {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: flowwatch collect [--listen ADDR] [flags]

Receives NetFlow v5, NetFlow v9, IPFIX and sFlow v5 datagrams and prints VPC
flow log records to stdout as aggregation windows close (plus a few seconds
for late flows); open windows are flushed on SIGINT/SIGTERM. Each exporter
is an instance and each of its ifIndexes a network interface with a stable
eni- id.

flags:`)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:2055", "UDP address to receive on (all protocols on one port)")
	interval := fs.Int("interval", 60, "aggregation interval in seconds: 60 or 600")
	format := fs.String("format", "default", "LogFormat ('${version} ${srcaddr} …'), or 'default'")
	startEnd := fs.String("start-end", "packets", "start/end fields: 'packets' (the flows' first/last packet) or 'window' (window bounds)")
	account := fs.String("account-id", "", "account id (default 000000000000)")
	region := fs.String("region", "", "region (default us-east-1)")
	az := fs.String("az-id", "", "availability zone id (default use1-az1)")
	vpc := fs.String("vpc-id", "", "VPC id written in records (default '-')")
	stats := fs.Bool("stats", false, "print counters to stderr at the end")
	endpoint := fs.String("endpoint", "", "also send the records to this flowwatch server, as the agent does (signed PutLogEvents, one stream per exporter interface, spooled while the server is away)")
	group := fs.String("log-group", "flowwatch-collector", "with --endpoint: log group the records go to")
	spoolDir := fs.String("spool-dir", "", "with --endpoint: where records wait for the server (default $XDG_STATE_HOME/flowwatch/collect-spool)")
	spoolMax := fs.Int64("spool-max-bytes", 1<<30, "with --endpoint: spool bound; past it the oldest batches are dropped, with a warning")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "flowwatch collect:", err)
		return 1
	}
	if *interval != 60 && *interval != 600 {
		return fail(fmt.Errorf("--interval must be 60 or 600"))
	}
	if *startEnd != "packets" && *startEnd != "window" {
		return fail(fmt.Errorf("--start-end must be 'packets' or 'window'"))
	}
	f, err := formatFlag(*format)
	if err != nil {
		return fail(err)
	}
	addr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil {
		return fail(err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var ship *agent.Shipper
	shipDone := make(chan struct{})
	if *endpoint != "" {
		creds, cerr := senderCredentials()
		if cerr != nil {
			return fail(fmt.Errorf("--endpoint: %w", cerr))
		}
		if *spoolDir == "" {
			*spoolDir = defaultSpoolDir("collect-spool")
		}
		ship, err = agent.NewShipper(agent.Config{Endpoint: *endpoint, Region: envOr("AWS_REGION", "us-east-1"),
			Credentials: creds,
			LogGroup:    *group, Format: f, SpoolDir: *spoolDir, SpoolMaxBytes: *spoolMax, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			return fail(err)
		}
		sendCtx, stopSend := context.WithCancel(context.Background())
		defer func() { stopSend(); <-shipDone }()
		go func() { defer close(shipDone); ship.Send(sendCtx) }()
	}

	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	var outMu sync.Mutex
	print := collector.Printer(f, func(b []byte) {
		outMu.Lock()
		out.Write(b)
		outMu.Unlock()
	})
	c := collector.New(collector.Config{Aggregator: collector.AggregatorConfig{
		Identity: collector.Identity{AccountID: *account, Region: *region, AZID: *az, VPCID: *vpc},
		Interval: *interval, WindowBounds: *startEnd == "window",
		Emit: func(r *flowlog.Record) {
			print(r)
			if ship != nil {
				ship.Emit(r)
			}
		},
	}})
	// Records reach a reader once a second, not only at exit.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick():
				outMu.Lock()
				out.Flush()
				outMu.Unlock()
			}
		}
	}()
	if ship != nil {
		go registerExporters(ctx, c, ship)
	}
	fmt.Fprintf(os.Stderr, "flowwatch collect: listening on %s\n", conn.LocalAddr())
	err = c.Serve(ctx, conn)
	if ship != nil {
		// A last registration, for exporters seen since the last tick.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		registerOnce(rctx, c, ship)
		cancel()
		if serr := ship.Close(5 * time.Second); serr != nil && err == nil {
			err = serr
		}
	}
	outMu.Lock()
	ferr := out.Flush()
	outMu.Unlock()
	if *stats {
		s := c.Stats()
		fmt.Fprintf(os.Stderr, "datagrams %d errors %d no-template %d flows %d records %d\n", s.Datagrams, s.Errors, s.NoTemplate, s.Flows, s.Records)
		var ex []string
		for a, r := range s.Sampling {
			ex = append(ex, fmt.Sprintf("exporter %s sampling-rate %d", a, r))
		}
		sort.Strings(ex)
		for _, l := range ex {
			fmt.Fprintln(os.Stderr, l)
		}
	}
	if err != nil {
		return fail(err)
	}
	if ferr != nil {
		return fail(ferr)
	}
	return 0
}

func tick() <-chan time.Time { return time.After(time.Second) }

// registerExporters registers every exporter that flows came from with
// the server, as an instance with one interface per ifIndex, so
// describe-network-interfaces lists the interface ids the records carry:
// within seconds of a new one, else every five minutes; failures are
// retried.
func registerExporters(ctx context.Context, c *collector.Collector, ship *agent.Shipper) {
	var done uint64
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		_, changes := c.Exporters()
		if changes == done && time.Since(last) < 5*time.Minute {
			continue
		}
		if n, ok := registerOnce(ctx, c, ship); ok {
			done, last = n, time.Now()
		}
	}
}

// registerOnce registers every exporter seen so far; it returns the
// Exporters counter it registered and whether all succeeded.
func registerOnce(ctx context.Context, c *collector.Collector, ship *agent.Shipper) (uint64, bool) {
	hosts, changes := c.Exporters()
	for _, h := range hosts {
		if err := ship.Register(ctx, h); err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "flowwatch collect: registering exporter %s failed; retrying: %v\n", h.Hostname, err)
			}
			return changes, false
		}
	}
	return changes, true
}
