package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flowwatch/flowwatch/internal/agent"
)

func init() {
	register("agent", "capture on this host and send flow log records to a flowwatch server", runAgent)
}

func runAgent(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: flowwatch agent --endpoint URL [flags]

Captures on this host's interfaces (needs CAP_NET_RAW) and sends the flow
log records to a flowwatch server with signed PutLogEvents, one stream per
interface (<eni-id>-all) in --log-group, after registering the host
(FlowwatchRegisterHost). Records are spooled to disk while the server is
away and sent in order when it is back. Credentials: FLOWWATCH_ACCESS_KEY_ID
and FLOWWATCH_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (the lines serve prints).

flags:`)
		fs.PrintDefaults()
	}
	endpoint := fs.String("endpoint", os.Getenv("AWS_ENDPOINT_URL"), "server URL, e.g. http://10.0.0.1:4566")
	ifaces := fs.String("interface", "all", "interfaces to capture on, comma-separated, or 'all' for every non-loopback interface that is up")
	group := fs.String("log-group", "flowwatch-agent", "log group the records go to")
	format := fs.String("format", "default", "LogFormat of the records, or 'default'")
	interval := fs.Int("interval", 60, "aggregation interval in seconds: 60 or 600 (1..59 only for tests)")
	spoolDir := fs.String("spool-dir", "", "where records wait for the server (default $XDG_STATE_HOME/flowwatch/agent-spool or ~/.local/state/…)")
	spoolMax := fs.Int64("spool-max-bytes", 1<<30, "spool bound; past it the oldest batches are dropped, with a warning")
	region := fs.String("region", envOr("AWS_REGION", "us-east-1"), "region the requests are signed for")
	instance := fs.String("instance-id", "", "instance id (default derived from /etc/machine-id)")
	vpc := fs.String("vpc-id", "", "VPC id written in records (default derived from the machine id)")
	nflog := fs.Uint("nflog-group", 0, "record packets the firewall drops as REJECT, read from this nflog group (nftables: add 'log group N' before 'drop' in your rules; needs CAP_NET_ADMIN)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "flowwatch agent:", err)
		return 1
	}
	if *endpoint == "" {
		fs.Usage()
		return 2
	}
	if *nflog > 65535 {
		return fail(fmt.Errorf("--nflog-group must be 1..65535"))
	}
	if *interval < 1 || *interval > 600 || (*interval != 60 && *interval != 600 && os.Getenv("FLOWWATCH_TEST_INTERVALS") == "") {
		return fail(fmt.Errorf("--interval must be 60 or 600"))
	}
	f, err := formatFlag(*format)
	if err != nil {
		return fail(err)
	}
	creds, err := senderCredentials()
	if err != nil {
		return fail(err)
	}
	if *spoolDir == "" {
		*spoolDir = defaultSpoolDir("agent-spool")
	}
	// "all" is left to the agent, which follows interfaces as they come
	// and go.
	var names []string
	if *ifaces != "all" {
		names = strings.Split(*ifaces, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ready := make(chan struct{})
	a, err := agent.New(agent.Config{Endpoint: *endpoint, Region: *region,
		Credentials: creds,
		Interfaces:  names, LogGroup: *group, Format: f, Interval: *interval, SpoolDir: *spoolDir, SpoolMaxBytes: *spoolMax,
		InstanceID: *instance, VPCID: *vpc, Log: log, Ready: ready, NFLOGGroup: uint16(*nflog)})
	if err != nil {
		return fail(err)
	}
	go func() {
		<-ready
		log.Info("capturing", "interfaces", *ifaces, "endpoint", *endpoint, "log_group", *group, "spool", *spoolDir, "spooled", a.Spool().Len())
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := a.Run(ctx, 5*time.Second)
	st := a.Stats()
	log.Info("stopped", "frames", res.Frames, "packets", res.Packets, "records", st.Records, "batches", st.Batches, "sent", st.Sent,
		"send_errors", st.SendErrors, "spooled", st.Spooled, "dropped", st.Dropped, "kernel_drops", res.KernelDrops,
		"skipdata", res.SkipData, "rejects", res.Rejects)
	if err != nil {
		return fail(err)
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
