package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
	"github.com/flowwatch/flowwatch/internal/logs"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Sink is what capture (and the collector) feed: records of closed
// windows, of any mix of interfaces and windows, each with its own
// InterfaceID, Start and End. Deliver returns nil only once the records are
// durable; the caller may then forget them. It is safe for concurrent use.
type Sink interface {
	Deliver(records []flowlog.Record) error
}

// FlowLogSource is the flow log registry (ec2.Service).
type FlowLogSource interface {
	FlowLogs() []ec2.FlowLog
	SetDeliveryStatus(id, status, message string) error
	InterfacesUnder(resourceID string) []inventory.Interface
}

// RoleChecker evaluates delivery roles (iam.Service): the trust policy for
// the flow logs service principal and the role's permissions.
type RoleChecker interface {
	AssumableBy(roleArn, servicePrincipal, sourceAccount, sourceArn string) error
	Authorize(principalArn, action, resource string, ctx map[string]string) (allowed bool, reason string)
}

// LogsAPI is the CloudWatch Logs service (logs.Service): delivery writes
// through it so that its validation and limits apply as to any client.
type LogsAPI interface {
	CreateLogGroup(ctx context.Context, in *logs.CreateLogGroupInput) (*logs.NoOutput, error)
	CreateLogStream(ctx context.Context, in *logs.CreateLogStreamInput) (*logs.NoOutput, error)
	PutLogEvents(ctx context.Context, in *logs.PutLogEventsInput) (*logs.PutLogEventsOutput, error)
}

// GroupReader looks log groups, streams and events up (the
// logstore.Store the logs service works on).
type GroupReader interface {
	Group(name string) (logstore.Group, error)
	Streams(group string) ([]logstore.Stream, error)
	Events(ctx context.Context, q logstore.EventQuery) ([]logstore.StoredEvent, bool, error)
}

// Config configures a Manager.
type Config struct {
	// DataDir is the server's data directory: the spool and delivery state
	// go in DataDir/delivery, S3 buckets in DataDir/s3/<bucket> unless
	// S3Dir says otherwise, or to S3 when S3 has an endpoint URL.
	DataDir  string
	S3Dir    string
	S3       S3Endpoint
	FlowLogs FlowLogSource
	Roles    RoleChecker
	Logs     LogsAPI
	Groups   GroupReader
	Logger   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Tick is how often Run looks for due windows (default 1 s).
	Tick time.Duration
	// Grace is how long after an aggregation window ends delivery waits
	// for capture to hand over the window's last records (default 2 s).
	Grace time.Duration
}

// SpoolDir is where the spool of dataDir lives.
func SpoolDir(dataDir string) string { return filepath.Join(dataDir, "delivery", "spool") }

// Service principal of VPC flow logs delivering to CloudWatch Logs.
const flowLogsPrincipal = "vpc-flow-logs.amazonaws.com"

// Manager runs delivery. Deliver may be called from any goroutine; passes
// run on Run's goroutine (or a test's).
type Manager struct {
	cfg     Config
	log     *slog.Logger
	spool   *spool
	dir     string
	objects ObjectStore
	wake    chan struct{}

	// Owned by the pass.
	files  map[string]*spoolFile
	state  map[string]*flowLogState
	sched  map[string]*schedule
	warned map[string]bool

	// crashAfterDeliver (tests) stops a pass right after a window is
	// written, before it is marked delivered, as a crash would.
	crashAfterDeliver bool
}

// schedule lets a pass skip a flow log with nothing due.
type schedule struct {
	last    string    // newest spool file considered
	due     time.Time // earliest close of a pending window
	retries map[int64]int
}

// New opens the spool and delivery state in cfg.DataDir.
func New(cfg Config) (*Manager, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("delivery: no data directory")
	}
	if cfg.FlowLogs == nil || cfg.Roles == nil || cfg.Logs == nil || cfg.Groups == nil {
		return nil, errors.New("delivery: FlowLogs, Roles, Logs and Groups are required")
	}
	if cfg.S3Dir == "" {
		cfg.S3Dir = filepath.Join(cfg.DataDir, "s3")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	dir := filepath.Join(cfg.DataDir, "delivery")
	sp, err := openSpool(SpoolDir(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	var objects ObjectStore = localObjects{root: cfg.S3Dir}
	if cfg.S3.URL != "" {
		if objects, err = newS3Objects(cfg.S3); err != nil {
			return nil, err
		}
	}
	return &Manager{
		cfg: cfg, log: cfg.Logger, spool: sp, dir: dir, wake: make(chan struct{}, 1), objects: objects,
		files: map[string]*spoolFile{}, state: st, sched: map[string]*schedule{}, warned: map[string]bool{},
	}, nil
}

// Deliver spools records durably and returns; delivery happens on the
// next pass. It implements Sink.
func (m *Manager) Deliver(records []flowlog.Record) error {
	if len(records) == 0 {
		return nil
	}
	if _, err := m.spool.write(m.cfg.Now(), records); err != nil {
		return err
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run makes passes until ctx ends: at every tick and whenever Deliver
// spooled something. The first pass replays what a previous run left.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	for {
		if err := m.Pass(ctx); err != nil {
			m.log.Error("delivery pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
	}
}

// Pass delivers every window that is due now and forgets spool files that
// no flow log needs any more.
func (m *Manager) Pass(ctx context.Context) error {
	now := m.cfg.Now()
	if _, err := m.spool.adoptInbox(now); err != nil {
		m.log.Warn("adopting spool inbox files failed", "err", err)
	}
	names, err := m.spool.list()
	if err != nil {
		return err
	}
	names = m.load(names)

	changed := false
	active := map[string]bool{}
	for _, fl := range m.cfg.FlowLogs.FlowLogs() {
		if fl.LogDestinationType != ec2.DestCloudWatchLogs && fl.LogDestinationType != ec2.DestS3 {
			if !m.warned[fl.ID] {
				m.warned[fl.ID] = true
				m.log.Warn("flow log destination type is not delivered by flowwatch", "flow_log_id", fl.ID, "type", fl.LogDestinationType)
			}
			continue
		}
		active[fl.ID] = true
		st := m.state[fl.ID]
		if st == nil {
			st = &flowLogState{}
			m.state[fl.ID] = st
			changed = true
		}
		if m.flowLog(ctx, now, &fl, st, names) {
			changed = true
		}
	}
	for id := range m.state {
		if !active[id] {
			delete(m.state, id) // deleted flow log: it needs no file any more
			delete(m.sched, id)
			changed = true
		}
	}
	if changed {
		if err := saveState(m.dir, m.state); err != nil {
			return err
		}
	}
	// Forget files every flow log is past. State is saved first: a crash in
	// between leaves files that are merely skipped again.
	for _, name := range names {
		needed := false
		for _, st := range m.state {
			if name > st.Cursor {
				needed = true
				break
			}
		}
		if needed {
			break
		}
		if err := m.spool.remove(name); err != nil {
			return fmt.Errorf("delivery: spool: %w", err)
		}
		delete(m.files, name)
	}
	return nil
}

// load parses spool files not yet in the cache and returns the names that
// could be read. A corrupt file is set aside (renamed *.corrupt) so it
// cannot hold the spool up.
func (m *Manager) load(names []string) []string {
	out := names[:0]
	for _, name := range names {
		if _, ok := m.files[name]; !ok {
			f, err := m.spool.read(name)
			if err != nil {
				m.log.Error("unreadable spool file set aside", "file", name, "err", err)
				_ = os.Rename(filepath.Join(m.spool.dir, name), filepath.Join(m.spool.dir, name+".corrupt"))
				continue
			}
			m.files[name] = f
		}
		out = append(out, name)
	}
	return out
}

// pending is the not yet delivered records of one aggregation window.
type pending struct {
	chunks  []chunk
	records []*flowlog.Record
}

// maxRetries bounds attempts at a window that fails for reasons other than
// access (an internal error): after them its records are dropped, as AWS
// drops records it could not publish.
const maxRetries = 10

// flowLog makes one flow log's pass; it reports whether st changed.
func (m *Manager) flowLog(ctx context.Context, now time.Time, fl *ec2.FlowLog, st *flowLogState, names []string) bool {
	newest := ""
	if len(names) > 0 {
		newest = names[len(names)-1]
	}
	sc := m.sched[fl.ID]
	if sc == nil {
		sc = &schedule{retries: map[int64]int{}}
		m.sched[fl.ID] = sc
	}
	if newest == sc.last && now.Before(sc.due) {
		return false
	}
	interval := int64(fl.MaxAggregationInterval)
	if interval != 60 && interval != 600 {
		interval = 600
	}
	ifaces := map[string]*inventory.Interface{}
	for _, it := range m.cfg.FlowLogs.InterfacesUnder(fl.ResourceID) {
		ifaces[it.ID] = &it
	}

	windows := map[int64]*pending{}
	fileChunks := map[string][]chunk{}
	for _, name := range names {
		if name <= st.Cursor {
			continue
		}
		f := m.files[name]
		// A window spooled before the flow log existed is not its own.
		if f.arrival.Before(fl.CreationTime) {
			continue
		}
		for i := range f.records {
			r := &f.records[i]
			it := ifaces[r.InterfaceID]
			if it == nil || !keepForTraffic(fl.TrafficType, r) {
				continue
			}
			w := windowOf(r, interval)
			c := chunk{File: name, Window: w}
			if !containsChunk(fileChunks[name], c) {
				fileChunks[name] = append(fileChunks[name], c)
			}
			if st.isDone(c) {
				continue
			}
			p := windows[w]
			if p == nil {
				p = &pending{}
				windows[w] = p
			}
			if !containsChunk(p.chunks, c) {
				p.chunks = append(p.chunks, c)
			}
			// The cached record itself: aggregate copies what it keeps.
			p.records = append(p.records, r)
		}
	}

	// Oldest window first: streams then receive events in time order, and
	// an interface's first traffic precedes its later NODATA.
	order := make([]int64, 0, len(windows))
	for w := range windows {
		order = append(order, w)
	}
	slices.Sort(order)
	changed := false
	due := time.Time{}
	for _, w := range order {
		p := windows[w]
		closes := time.Unix(w+interval, 0).Add(m.cfg.Grace)
		if now.Before(closes) {
			if due.IsZero() || closes.Before(due) {
				due = closes
			}
			continue
		}
		// A CloudWatch Logs window is marked in flight, durably, before
		// its events are written: after a crash in between, the replay
		// leaves out the events already stored (exactly once).
		// A window that failed part way stays in flight for its retry.
		recovering := st.inFlight(p.chunks)
		if fl.LogDestinationType == ec2.DestCloudWatchLogs && !recovering {
			st.InFlight = append(st.InFlight, p.chunks...)
			if err := saveState(m.dir, m.state); err != nil {
				m.log.Error("saving delivery state failed", "err", err)
				st.InFlight = st.InFlight[:len(st.InFlight)-len(p.chunks)]
				due = now.Add(m.cfg.Tick)
				continue
			}
		}
		err := m.deliverWindow(ctx, fl, st, w, p, recovering)
		if m.crashAfterDeliver {
			return false
		}
		if err != nil && !isAccess(err) {
			sc.retries[w]++
			if sc.retries[w] < maxRetries {
				m.log.Warn("delivery failed; retrying", "flow_log_id", fl.ID, "window", w, "err", err)
				m.setStatus(fl, ec2.StatusFailed, ec2.ErrUnknown)
				if retry := now.Add(m.cfg.Tick); due.IsZero() || retry.Before(due) {
					due = retry
				}
				continue
			}
			m.log.Error("delivery failed; records dropped", "flow_log_id", fl.ID, "window", w, "records", len(p.records), "err", err)
		}
		delete(sc.retries, w)
		st.Done = append(st.Done, p.chunks...)
		st.InFlight = slices.DeleteFunc(st.InFlight, func(c chunk) bool { return containsChunk(p.chunks, c) })
		changed = true
		switch {
		case err == nil:
			m.setStatus(fl, ec2.StatusSuccess, "")
		case isAccess(err):
			m.log.Warn("delivery refused; records dropped", "flow_log_id", fl.ID, "window", w, "records", len(p.records), "err", err)
			m.setStatus(fl, ec2.StatusFailed, ec2.ErrAccess)
		default:
			m.setStatus(fl, ec2.StatusFailed, ec2.ErrUnknown)
		}
	}
	if due.IsZero() {
		due = now.Add(24 * time.Hour)
	}
	sc.last, sc.due = newest, due

	// Advance the cursor over files with nothing left to deliver.
	for _, name := range names {
		if name <= st.Cursor {
			continue
		}
		done := true
		for _, c := range fileChunks[name] {
			if !st.isDone(c) {
				done = false
				break
			}
		}
		if !done {
			break
		}
		st.Cursor = name
		changed = true
	}
	if changed {
		kept := st.Done[:0]
		for _, c := range st.Done {
			if c.File > st.Cursor {
				kept = append(kept, c)
			}
		}
		st.Done = kept
	}
	return changed
}

func containsChunk(cs []chunk, c chunk) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// fillIdentity completes the interface metadata a source may leave out
// (a pcap or injected records) from the inventory, which is authoritative
// for the ids DescribeNetworkInterfaces shows.
func fillIdentity(r *flowlog.Record, fl *ec2.FlowLog, it *inventory.Interface) {
	if r.AccountID == "" {
		r.AccountID = fl.AccountID
	}
	if r.VPCID == "" {
		r.VPCID = it.VPCID
	}
	if r.SubnetID == "" {
		r.SubnetID = it.SubnetID
	}
	if r.InstanceID == "" {
		r.InstanceID = it.InstanceID
	}
	if r.Region == "" {
		r.Region = it.Region
	}
}

// deliverWindow sends one aggregation window of a flow log to its
// destination.
func (m *Manager) deliverWindow(ctx context.Context, fl *ec2.FlowLog, st *flowLogState, w int64, p *pending, recovering bool) error {
	ifaces := map[string]*inventory.Interface{}
	for _, it := range m.cfg.FlowLogs.InterfacesUnder(fl.ResourceID) {
		ifaces[it.ID] = &it
	}
	recs := aggregate(p.records, func(r *flowlog.Record) {
		if it := ifaces[r.InterfaceID]; it != nil {
			fillIdentity(r, fl, it)
		}
	})
	// An interface gets its first stream / lines with traffic, not with
	// NODATA (spec §3.1, §8.8).
	traffic := map[string]bool{}
	for i := range recs {
		if recs[i].LogStatus == flowlog.StatusOK {
			traffic[recs[i].InterfaceID] = true
		}
	}
	kept := recs[:0]
	for _, r := range recs {
		if traffic[r.InterfaceID] || st.seen(r.InterfaceID) {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	var err error
	switch fl.LogDestinationType {
	case ec2.DestCloudWatchLogs:
		err = m.deliverCWL(ctx, fl, w, kept, recovering)
	case ec2.DestS3:
		err = m.deliverS3(ctx, fl, w, p.chunks, kept)
	}
	if err == nil {
		for eni := range traffic {
			st.markSeen(eni)
		}
	}
	return err
}

func (m *Manager) setStatus(fl *ec2.FlowLog, status, message string) {
	if err := m.cfg.FlowLogs.SetDeliveryStatus(fl.ID, status, message); err != nil && !errors.Is(err, ec2.ErrNoFlowLog) {
		m.log.Error("recording delivery status failed", "flow_log_id", fl.ID, "err", err)
	}
}

// accessError is a delivery the destination's permissions refuse: the
// window's records are dropped and the flow log reports "Access error".
type accessError struct{ reason string }

func (e *accessError) Error() string { return "access error: " + e.reason }

func isAccess(err error) bool {
	var a *accessError
	return errors.As(err, &a)
}
