package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
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
	capture := fs.Bool("capture", true, "capture this host's interfaces (needs privileges)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
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
		Logger: logger, Stdout: os.Stdout,
	})
	if err != nil {
		logger.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

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
