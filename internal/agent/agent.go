// Package agent is `flowwatch agent`: it captures on this host's
// interfaces and sends the flow log records to a flowwatch server through
// the public API — SigV4-signed PutLogEvents into one stream per interface
// (<eni-id>-all, as AWS names them), creating the group and streams as
// needed — after registering the host with the EC2 FlowwatchRegisterHost
// action, so the server lists its instance and interfaces.
//
// Records go through a disk spool (Spool): a closed window is written and
// fsynced there before capture reads on (runCapture spools after every
// step that closed a window), and removed once the server accepted it.
// While the server is away batches accumulate, up to
// a size bound past which the oldest are dropped with a counted warning;
// when it is back they are sent in the order they were spooled. A crash
// between the server's acknowledgement and the removal can send one batch
// twice; nothing else is sent twice.
package agent

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/flowwatch/flowwatch/internal/capture"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Config configures an Agent.
type Config struct {
	Endpoint    string
	Region      string // default us-east-1
	Credentials aws.CredentialsProvider
	// Interfaces to capture on; none means every non-loopback interface
	// that is up, rescanned as interfaces come and go.
	Interfaces []string
	LogGroup   string // default "flowwatch-agent"
	Format     *flowlog.Format
	// Interval is the aggregation window in seconds (60 or 600; tests use
	// shorter ones).
	Interval      int
	SpoolDir      string
	SpoolMaxBytes int64
	InstanceID    string // default derived from the machine id
	VPCID         string // default derived from the machine id
	Log           *slog.Logger
	// Ready, when set, is closed once capture runs.
	Ready chan struct{}
	// NFLOGGroup, when not zero, records packets the firewall drops (read
	// from that nflog group) as REJECT, as `flowwatch capture` does.
	NFLOGGroup uint16
	// Linger is how long a burst of records (a closing window) is
	// collected before it is spooled (default 200 ms).
	Linger time.Duration
}

// Stats counts an agent's work.
type Stats struct {
	Records, Batches, Sent, SendErrors uint64
	Spooled                            int
	Dropped                            uint64
}

// Agent captures and sends.
type Agent struct {
	cfg Config
	*Shipper
	host inventory.HostInfo
}

// Shipper takes records (an Emit callback), spools them as one batch per
// interface stream when a burst ends, and sends the spool to the server:
// the part of the agent `flowwatch collect --endpoint` shares.
type Shipper struct {
	group  string
	format *flowlog.Format
	linger time.Duration
	log    *slog.Logger
	spool  *Spool
	sender *Sender

	flushMu sync.Mutex // one Flush at a time keeps batches in emit order
	mu      sync.Mutex
	pending []flowlog.Record
	timer   *time.Timer
	stats   Stats
}

// NewShipper opens the spool of cfg (Endpoint, Region, Credentials,
// LogGroup, Format, SpoolDir, SpoolMaxBytes, Linger, Log are used).
func NewShipper(cfg Config) (*Shipper, error) {
	cfg = cfg.withDefaults()
	sp, err := OpenSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, cfg.Log)
	if err != nil {
		return nil, err
	}
	s := &Shipper{group: cfg.LogGroup, format: cfg.Format, linger: cfg.Linger, log: cfg.Log, spool: sp,
		sender: NewSender(cfg.Endpoint, cfg.Region, cfg.Credentials)}
	s.timer = time.AfterFunc(time.Hour, s.flushLogged)
	s.timer.Stop()
	return s, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.LogGroup == "" {
		cfg.LogGroup = "flowwatch-agent"
	}
	if cfg.Format == nil {
		cfg.Format = flowlog.DefaultFormat
	}
	if cfg.Interval == 0 {
		cfg.Interval = 60
	}
	if cfg.Linger == 0 {
		cfg.Linger = 200 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// New prepares an agent: it opens the spool and describes the host.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	host, err := inventory.LocalHost(cfg.InstanceID)
	if err != nil {
		return nil, err
	}
	sh, err := NewShipper(cfg)
	if err != nil {
		return nil, err
	}
	// Records carry capture.InterfaceID, which is the inventory's id of
	// the interface: the one describe-network-interfaces lists.
	return &Agent{cfg: cfg, Shipper: sh, host: host}, nil
}

// Register puts h into the server's inventory (EC2 FlowwatchRegisterHost),
// as the agent does for its host; `flowwatch collect` registers exporters.
func (a *Shipper) Register(ctx context.Context, h inventory.HostInfo) error {
	return a.sender.Register(ctx, h)
}

// Spool is the shipper's spool.
func (a *Shipper) Spool() *Spool { return a.spool }

// Stats returns the counters.
func (a *Shipper) Stats() Stats {
	a.mu.Lock()
	s := a.stats
	a.mu.Unlock()
	s.Spooled, s.Dropped = a.spool.Len(), a.spool.Dropped()
	return s
}

// Emit copies a record for the next spooled batch; it is safe for
// concurrent use.
func (a *Shipper) Emit(r *flowlog.Record) {
	a.mu.Lock()
	a.pending = append(a.pending, *r)
	a.stats.Records++
	a.timer.Reset(a.linger)
	a.mu.Unlock()
}

func (a *Shipper) flushLogged() {
	if err := a.Flush(); err != nil {
		a.log.Error("spooling records failed; retrying", "err", err)
		a.timer.Reset(time.Second)
	}
}

// Flush spools the pending records, one batch per interface stream.
func (a *Shipper) Flush() error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	recs := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	byStream := map[string][]Event{}
	var streams []string
	var line []byte
	for i := range recs {
		r := &recs[i]
		st := r.InterfaceID + "-all"
		if _, ok := byStream[st]; !ok {
			streams = append(streams, st)
		}
		line = flowlog.AppendText(line[:0], r, a.format)
		byStream[st] = append(byStream[st], Event{Timestamp: r.Start * 1000, Message: string(line)})
	}
	sort.Strings(streams)
	batches := make([]Batch, 0, len(streams))
	for _, st := range streams {
		evs := byStream[st]
		// PutLogEvents wants events in time order.
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Timestamp < evs[j].Timestamp })
		batches = append(batches, Batch{Group: a.group, Stream: st, Events: evs})
	}
	if err := a.spool.Put(batches...); err != nil {
		a.mu.Lock()
		a.pending = append(recs, a.pending...)
		a.mu.Unlock()
		return err
	}
	a.mu.Lock()
	a.stats.Batches += uint64(len(batches))
	a.mu.Unlock()
	return nil
}

// Run captures until ctx is done, then flushes the open windows into the
// spool and gives the sender drain to empty it; what remains is sent by
// the next run.
func (a *Agent) Run(ctx context.Context, drain time.Duration) (capture.LiveStats, error) {
	sendCtx, stopSend := context.WithCancel(context.Background())
	sendDone := make(chan struct{})
	go func() { defer close(sendDone); a.Send(sendCtx) }()
	go a.register(sendCtx)

	stop := make(chan struct{})
	go func() { <-ctx.Done(); close(stop) }()
	id := capture.Identity{InstanceID: a.host.ID(), VPCID: a.cfg.VPCID}
	res, err := a.runCapture(stop, id)
	if ferr := a.Close(drain); ferr != nil && err == nil {
		err = ferr
	}
	stopSend()
	<-sendDone
	return res, err
}

// Close spools what is pending and waits up to drain for the spool to be
// sent (by a running Send).
func (a *Shipper) Close(drain time.Duration) error {
	a.timer.Stop()
	err := a.Flush()
	deadline := time.Now().Add(drain)
	for a.spool.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// Send delivers spooled batches oldest first until ctx is done, retrying
// with backoff while the server is away.
func (a *Shipper) Send(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		b, seq, ok := a.spool.Oldest()
		if !ok {
			select {
			case <-ctx.Done():
			case <-a.spool.Notify():
			case <-time.After(time.Second):
			}
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.sender.Send(tctx, &b)
		cancel()
		if err != nil {
			a.mu.Lock()
			a.stats.SendErrors++
			a.mu.Unlock()
			a.log.Warn("sending to the server failed; batches stay spooled", "err", err, "spooled", a.spool.Len())
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if err := a.spool.Done(seq); err != nil {
			a.log.Error("removing a sent batch failed", "err", err)
		}
		a.mu.Lock()
		a.stats.Sent++
		a.mu.Unlock()
	}
}

// register registers the host until it succeeds, then again every five
// minutes (the server keeps registrations, this refreshes changed
// interfaces).
func (a *Agent) register(ctx context.Context) {
	wait := 500 * time.Millisecond
	for {
		if h, err := inventory.LocalHost(a.cfg.InstanceID); err == nil {
			a.host.NICs = h.NICs
		}
		err := a.sender.Register(ctx, a.host)
		if err == nil {
			a.cfg.Log.Info("host registered", "instance", a.host.ID())
			wait = 5 * time.Minute
		} else if ctx.Err() == nil {
			a.cfg.Log.Warn("registering the host failed; retrying", "err", err)
			wait = min(wait*2, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
