// Package server assembles flowwatch serve: the store, the services, the
// AWS front ends behind SigV4, /health, structured logs and graceful
// shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/delivery"
	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/iam"
	"github.com/flowwatch/flowwatch/internal/inventory"
	"github.com/flowwatch/flowwatch/internal/logs"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Config is what serve needs; zero values get the defaults of design.md.
type Config struct {
	Listen    string // default 127.0.0.1:4566
	DataDir   string // required
	AccountID string // default 000000000000
	Capture   bool
	// NFLOGGroup, when not zero, records packets the host firewall drops
	// (nftables "log group N" on drop rules) as REJECT.
	NFLOGGroup uint16
	// InstanceID, VPCID, Region and AZ fix this host's EC2 identity; ""
	// derives the ids (design.md "Identity of things") and defaults the
	// region to us-east-1 and the AZ to the region's "a".
	InstanceID, VPCID, Region, AZ string
	Logger                        *slog.Logger
	// Stdout receives the export lines of freshly generated credentials,
	// and nothing else.
	Stdout io.Writer
	Getenv func(string) string // os.Getenv when nil
	// ShutdownTimeout bounds draining in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// Ready, when set, is called with the listening address once requests
	// are accepted.
	Ready func(addr string)
}

// Run serves until ctx is cancelled, then drains requests and closes the
// store (which flushes it).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4566"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.DataDir == "" {
		return errors.New("serve: no data directory")
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("serve: data dir: %w", err)
	}
	creds, generated, err := LoadCredentials(cfg.DataDir, cfg.Getenv)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	store, err := openStore(cfg.DataDir, log)
	if err != nil {
		return fmt.Errorf("serve: open store: %w", err)
	}
	closeStore := func() {
		if err := store.Close(); err != nil {
			log.Error("closing the log store failed", "err", err)
		}
	}

	iamSvc, err := iam.Open(iam.Config{DataDir: cfg.DataDir, AccountID: cfg.AccountID, Logger: log.With("service", "iam")})
	if err != nil {
		closeStore()
		return fmt.Errorf("serve: %w", err)
	}
	router := awsapi.NewRouter(awsapi.Config{
		AccountID: cfg.AccountID,
		Logger:    log,
		Verifier: awsapi.NewVerifier(func(id string) (string, bool) {
			if id == creds.AccessKeyID {
				return creds.SecretAccessKey, true
			}
			return iamSvc.Secret(id) // IAM users' access keys
		}),
		Authorizer: iamSvc.RequestAuthorizer(),
	})
	router.HandleProtocol(iam.SigningName, iamSvc.QueryService())
	router.HandleProtocol(iam.STSSigningName, iamSvc.STSService())
	router.HandleResources(logs.TargetPrefix, logs.Resources)
	logsSvc := logs.New(logs.Config{Store: store, AccountID: cfg.AccountID, Logger: log.With("service", "logs")})
	router.HandleJSON(logs.TargetPrefix, logs.SigningName, logsSvc.Operations())
	ec2Svc, err := openEC2(ctx, cfg, log, iamSvc.AuthorizeCaller)
	if err != nil {
		logsSvc.Close()
		closeStore()
		return fmt.Errorf("serve: %w", err)
	}
	router.HandleProtocol(ec2.SigningName, ec2Svc)
	// Delivery puts flow logs to work until shutdown; it stops before the
	// store closes. Capture feeds it closed windows through dlv.Deliver.
	// S3 flow logs write to DataDir/s3/<bucket>, or to an S3-compatible
	// endpoint when FLOWWATCH_S3_ENDPOINT is set.
	dlv, err := delivery.New(delivery.Config{DataDir: cfg.DataDir, FlowLogs: ec2Svc, Roles: iamSvc, Logs: logsSvc, Groups: store,
		S3: delivery.S3EndpointFromEnv(cfg.Getenv), Logger: log.With("component", "delivery")})
	if err != nil {
		logsSvc.Close()
		closeStore()
		return fmt.Errorf("serve: %w", err)
	}
	dctx, stopDelivery := context.WithCancel(context.Background())
	deliveryDone := make(chan struct{})
	go func() { defer close(deliveryDone); dlv.Run(dctx) }()
	closeStoreOnly := closeStore
	closeStore = func() { stopDelivery(); <-deliveryDone; closeStoreOnly() }

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		closeStore()
		return fmt.Errorf("serve: %w", err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           Handler(router),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if generated {
		fmt.Fprintf(cfg.Stdout, "# flowwatch generated root credentials (stored in %s; shown only this once):\n", cfg.DataDir)
		fmt.Fprintf(cfg.Stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_DEFAULT_REGION=us-east-1\n", creds.AccessKeyID, creds.SecretAccessKey)
		// AWS_ENDPOINT_URL points the aws CLI (botocore >= 1.31), boto3 and
		// the SDKs at flowwatch without an --endpoint-url on every call.
		fmt.Fprintf(cfg.Stdout, "export AWS_ENDPOINT_URL=http://%s\n", addr)
		fmt.Fprintf(cfg.Stdout, "# then: aws logs describe-log-groups\n")
	}
	stopCapture := func() {}
	if cfg.Capture {
		stopCapture = startCapture(log.With("component", "capture"), ec2Svc.Inventory(), dlv, cfg.NFLOGGroup)
	} else {
		log.Info("capture is off (--capture=false)")
	}
	log.Info("serving", "addr", addr, "data_dir", cfg.DataDir, "account_id", cfg.AccountID)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}
	select {
	case err := <-errc:
		stopCapture()
		logsSvc.Close()
		closeStore()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown deadline", "err", err)
		srv.Close()
	}
	stopCapture() // flushes open windows into delivery
	stopDelivery()
	<-deliveryDone
	if err := logsSvc.Close(); err != nil {
		log.Error("stopping the logs service failed", "err", err)
	}
	closeStore()
	log.Info("stopped")
	return nil
}

// Handler serves /health unauthenticated and everything else through api.
func Handler(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			// Says the process is up and nothing else: no version, no
			// account, no counts.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// openStore opens the durable store in dataDir (the same directory
// `flowwatch import` writes to).
func openStore(dataDir string, log *slog.Logger) (logstore.Store, error) {
	db, err := logstore.Open(logstore.Options{Dir: dataDir, Logger: log.With("component", "logstore")})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// openEC2 builds the inventory with this host in it, keeps it current as
// interfaces come and go, and opens the EC2 service (flow logs persist in
// DataDir/ec2).
func openEC2(ctx context.Context, cfg Config, log *slog.Logger, authz func(awsapi.RequestInfo, string, string) error) (*ec2.Service, error) {
	seed := inventory.MachineID()
	if seed == "" {
		seed, _ = os.Hostname()
	}
	inv, err := inventory.New(inventory.Config{AccountID: cfg.AccountID, Region: cfg.Region, AZ: cfg.AZ, VPCID: cfg.VPCID, Seed: seed})
	if err != nil {
		return nil, err
	}
	local := func() (inventory.HostInfo, error) { return inventory.LocalHost(cfg.InstanceID) }
	h, err := local()
	if err != nil {
		return nil, err
	}
	inst, err := inv.SetHost(h)
	if err != nil {
		return nil, err
	}
	log.Info("inventory", "instance_id", inst.ID, "vpc_id", inv.VPCID(), "region", inv.Region(), "interfaces", len(inst.Interfaces))
	go inv.Refresh(ctx, 30*time.Second, log.With("component", "inventory"), local)
	refresh := func() {
		if h, err := local(); err == nil {
			_, _ = inv.SetHost(h)
		}
	}
	return ec2.New(ec2.Config{Dir: filepath.Join(cfg.DataDir, "ec2"), AccountID: cfg.AccountID, Inventory: inv,
		Logger: log.With("service", "ec2"), AuthorizeCaller: authz, Refresh: refresh})
}
