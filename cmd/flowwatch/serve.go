package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/flowwatch/flowwatch/internal/server"
)

func init() {
	register("serve", "run the AWS-compatible endpoint (CloudWatch Logs) on the embedded store", runServe)
}

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4566", "address of the AWS-compatible endpoint")
	dataDir := fs.String("data-dir", defaultDataDir(), "directory of the embedded store and generated credentials")
	account := fs.String("account-id", "000000000000", "AWS account id of every resource")
	capture := fs.Bool("capture", true, "capture this host's interfaces into the flow logs created on them (needs root or CAP_NET_RAW)")
	nflogGroup := fs.Uint("nflog-group", 0, "record packets the host firewall drops as REJECT: the nflog group of your drop rules (nftables: `log group N drop`); 0 turns it off")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	instanceID := fs.String("instance-id", "", "EC2 instance id of this host (default: derived from /etc/machine-id)")
	vpcID := fs.String("vpc-id", "", "VPC id of every monitored interface (default: derived per installation)")
	region := fs.String("region", "us-east-1", "region of the monitored hosts (the EC2 API lists them only there)")
	az := fs.String("az", "", "availability zone of this host (default: the region followed by a)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: flowwatch serve [flags]\n\n"+
			"Serves the AWS-compatible endpoint (CloudWatch Logs, SigV4-signed) on the embedded store.\n"+
			"Credentials: FLOWWATCH_ACCESS_KEY_ID/FLOWWATCH_SECRET_ACCESS_KEY, or generated on first start\n"+
			"into --data-dir and printed once as export lines.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "flowwatch serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *nflogGroup > 65535 {
		fmt.Fprintf(os.Stderr, "flowwatch serve: --nflog-group must be 0..65535, not %d\n", *nflogGroup)
		return 2
	}
	if !accountIDRe.MatchString(*account) {
		fmt.Fprintf(os.Stderr, "flowwatch serve: --account-id must be 12 digits, not %q\n", *account)
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "flowwatch serve: bad --log-level %q\n", *level)
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "flowwatch serve: no --data-dir and no home directory to default to")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := server.Run(ctx, server.Config{
		Listen: *listen, DataDir: *dataDir, AccountID: *account, Capture: *capture,
		NFLOGGroup: uint16(*nflogGroup),
		InstanceID: *instanceID, VPCID: *vpcID, Region: *region, AZ: *az,
		Logger: logger, Stdout: os.Stdout,
	})
	if err != nil {
		logger.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

var accountIDRe = regexp.MustCompile(`^\d{12}$`)

// defaultDataDir is $XDG_DATA_HOME/flowwatch or ~/.local/share/flowwatch.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "flowwatch")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "flowwatch")
	}
	return ""
}
