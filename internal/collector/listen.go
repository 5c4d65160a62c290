package collector

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Config configures a Collector.
type Config struct {
	Aggregator AggregatorConfig
	// Grace is how long after a window ends its records wait for late
	// flows before they are emitted (default 5 s).
	Grace time.Duration
	Log   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Stats counts a collector's work.
type Stats struct {
	Datagrams, Errors, NoTemplate, Flows, Records uint64
	// Sampling is the last sampling rate applied per exporter.
	Sampling map[netip.Addr]uint32
}

// Collector receives datagrams on a UDP socket and emits records as
// windows close.
type Collector struct {
	cfg Config
	dec *Decoder

	mu    sync.Mutex // serialises the aggregator and stats
	agg   *Aggregator
	stats Stats
}

// New returns a Collector.
func New(cfg Config) *Collector {
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Collector{cfg: cfg, dec: NewDecoder(), agg: NewAggregator(cfg.Aggregator),
		stats: Stats{Sampling: map[netip.Addr]uint32{}}}
}

// Handle decodes one datagram and aggregates its flows.
func (c *Collector) Handle(from netip.Addr, data []byte, flows []Flow) []Flow {
	flows, err := c.dec.Decode(flows[:0], from, data, c.cfg.Now().UnixMilli())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Datagrams++
	if err != nil {
		if errors.Is(err, ErrNoTemplate) {
			c.stats.NoTemplate++
		} else {
			c.stats.Errors++
			c.cfg.Log.Warn("undecodable datagram", "from", from, "err", err)
		}
	}
	for i := range flows {
		c.agg.Add(&flows[i])
		c.stats.Sampling[flows[i].Exporter] = flows[i].SamplingRate
	}
	c.stats.Flows += uint64(len(flows))
	return flows
}

// Advance emits the windows closed (plus grace) by now.
func (c *Collector) Advance(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agg.Advance(now.Add(-c.cfg.Grace).Unix())
	c.stats.Records = c.agg.Records
}

// Flush emits every open window.
func (c *Collector) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agg.Flush()
	c.stats.Records = c.agg.Records
}

// Exporters returns the exporters flows came from, as inventory hosts, and a counter that grows whenever one is new or has a new
// interface.
func (c *Collector) Exporters() ([]inventory.HostInfo, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agg.Exporters(), c.agg.SeenChanges
}

// Stats returns a copy of the counters.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Sampling = make(map[netip.Addr]uint32, len(c.stats.Sampling))
	for k, v := range c.stats.Sampling {
		s.Sampling[k] = v
	}
	return s
}

// Serve reads datagrams from conn until ctx is done, emitting closed
// windows every second, then flushes every open window.
func (c *Collector) Serve(ctx context.Context, conn *net.UDPConn) error {
	// A large receive buffer absorbs an exporter's bursts (one per
	// active-timeout sweep) while the aggregator works.
	_ = conn.SetReadBuffer(8 << 20)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				conn.SetReadDeadline(time.Now())
				close(done)
				return
			case <-t.C:
				c.Advance(c.cfg.Now())
			}
		}
	}()
	buf := make([]byte, 65536)
	var flows []Flow
	var err error
	for {
		n, from, rerr := conn.ReadFromUDPAddrPort(buf)
		if rerr != nil {
			if ctx.Err() != nil {
				break // the deadline set on cancellation
			}
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				continue
			}
			err = rerr
			break
		}
		flows = c.Handle(from.Addr(), buf[:n], flows)
	}
	cancel()
	<-done
	c.Flush()
	return err
}

// Printer returns an Emit function writing records in format f through
// write, one line each.
func Printer(f *flowlog.Format, write func([]byte)) func(*flowlog.Record) {
	var line []byte
	return func(r *flowlog.Record) {
		line = flowlog.AppendText(line[:0], r, f)
		line = append(line, '\n')
		write(line)
	}
}
