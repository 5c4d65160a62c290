package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// LiveOptions configures live capture (Live, RunLive).
type LiveOptions struct {
	Identity  Identity
	MachineID string // default MachineID()
	// Table configures each interface's flow table; Emit is called from
	// several goroutines but never concurrently.
	Table TableConfig
	// WindowDone, when set, is called after every step in which a table
	// emitted records (a window closed, a full table evicted, an interface
	// was stopped), before that interface's ring is read again: the place
	// to make a closed window durable or hand it on. Calls are serialised
	// with Emit.
	WindowDone func()
	Ring       RingConfig
	// Ready, when set, is closed by RunLive once every ring is open.
	Ready chan struct{}
	// NFLOGGroup, when not zero, reads packets the firewall drops from
	// that nflog group (nftables "log group N" on drop/reject rules) and
	// records them as REJECT.
	NFLOGGroup uint16
	// Log, when set, says when an interface's capture starts and ends.
	Log *slog.Logger

	// stall delays the first poll, so tests can overflow a small ring.
	stall time.Duration
}

// LiveStats reports a live capture.
type LiveStats struct {
	Stats
	Frames, Undecodable, KernelDrops uint64
	Rejects, RejectsLost             uint64 // firewall drops recorded; dropped for a full queue
}

func (s *LiveStats) add(o *LiveStats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.Records += o.Records
	s.NoData += o.NoData
	s.SkipData += o.SkipData
	s.Evicted += o.Evicted
	s.Excluded += o.Excluded
	s.Late += o.Late
	s.Frames += o.Frames
	s.Undecodable += o.Undecodable
	s.KernelDrops += o.KernelDrops
	s.Rejects += o.Rejects
	s.RejectsLost += o.RejectsLost
}

// Live captures on a set of interfaces that may change while it runs (Add,
// Remove, Sync): one AF_PACKET ring, flow table and goroutine per
// interface, and at most one NFLOG reader that routes firewall drops to the
// table of the interface they crossed. RunLive, `flowwatch capture`, the
// agent and serve all capture through it.
type Live struct {
	opt     LiveOptions
	id      Identity
	emitMu  sync.Mutex // serialises Emit and WindowDone across interfaces
	mu      sync.Mutex
	ifs     map[string]*liveIface
	byIndex map[int]*liveIface // for the NFLOG reader
	total   LiveStats          // of interfaces that ended, under mu
	errs    []error
	closed  bool

	nflogStop, nflogDone chan struct{}
	rejectsLost          uint64 // under mu: NFLOG queue full, or queued after an interface's last drain
}

type liveIface struct {
	name     string // as Add was given it: the key in Live.ifs
	ring     *Ring
	stop     chan struct{}
	stopOnce sync.Once // Remove may race with Close
	done     chan struct{}
	rejects  chan RejectEvent
}

// StartLive prepares a live capture with no interface yet; with
// NFLOGGroup set it subscribes to the group (which needs CAP_NET_ADMIN).
func StartLive(opt LiveOptions) (*Live, error) {
	if opt.MachineID == "" {
		opt.MachineID = MachineID()
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	l := &Live{opt: opt, id: opt.Identity.Fill(opt.MachineID), ifs: map[string]*liveIface{}, byIndex: map[int]*liveIface{}}
	if opt.NFLOGGroup != 0 {
		nl, err := OpenNFLOG(opt.NFLOGGroup)
		if err != nil {
			return nil, err
		}
		l.nflogStop, l.nflogDone = make(chan struct{}), make(chan struct{})
		go l.readNFLOG(nl)
	}
	return l, nil
}

func (l *Live) readNFLOG(nl *NFLOG) {
	defer close(l.nflogDone)
	defer nl.Close()
	for {
		select {
		case <-l.nflogStop:
			return
		default:
		}
		err := nl.Read(100*time.Millisecond, func(ev *RejectEvent) {
			idx := ev.InIndex
			if idx == 0 {
				idx = ev.OutIndex
			}
			// The send happens under l.mu so that an interface's capture,
			// which leaves byIndex under l.mu, never misses one queued after
			// its last drain without counting it (see run).
			l.mu.Lock()
			defer l.mu.Unlock()
			li := l.byIndex[idx]
			if li == nil {
				return
			}
			select {
			case li.rejects <- *ev:
			default:
				l.rejectsLost++
			}
		})
		if err != nil {
			// A socket that keeps failing would otherwise spin this loop;
			// captures go on, recording everything as ACCEPT.
			l.opt.Log.Warn("NFLOG reader stopped: REJECT records end here", "err", err)
			l.mu.Lock()
			l.errs = append(l.errs, fmt.Errorf("capture: NFLOG: %w", err))
			l.mu.Unlock()
			return
		}
	}
}

// Add starts capturing on the named interface; it is a no-op when the
// interface is already captured.
func (l *Live) Add(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("capture: live capture is closed")
	}
	if li := l.ifs[name]; li != nil && !li.ended() {
		return nil
	}
	r, err := OpenRing(name, l.opt.Ring)
	if err != nil {
		return err
	}
	li := &liveIface{name: name, ring: r, stop: make(chan struct{}), done: make(chan struct{}), rejects: make(chan RejectEvent, 4096)}
	l.ifs[name] = li
	l.byIndex[r.Iface.Index] = li
	go l.run(li)
	l.opt.Log.Info("capturing", "interface", name)
	return nil
}

func (li *liveIface) ended() bool {
	select {
	case <-li.done:
		return true
	default:
		return false
	}
}

// Remove stops capturing on the named interface, emitting its open window.
func (l *Live) Remove(name string) {
	l.mu.Lock()
	li := l.ifs[name]
	l.mu.Unlock()
	if li == nil {
		return
	}
	li.stopOnce.Do(func() { close(li.stop) })
	<-li.done
	l.mu.Lock()
	if l.ifs[name] == li {
		delete(l.ifs, name)
	}
	l.mu.Unlock()
}

// Sync makes the captured set the given names: it starts the missing ones
// (and those whose capture ended, e.g. an interface deleted and created
// again) and stops the others. It returns the errors of the ones it could
// not start.
func (l *Live) Sync(names []string) error {
	var errs []error
	for _, n := range names {
		if err := l.Add(n); err != nil {
			errs = append(errs, fmt.Errorf("capture on %s: %w", n, err))
		}
	}
	for _, n := range l.Names() {
		if !slices.Contains(names, n) {
			l.Remove(n)
		}
	}
	return errors.Join(errs...)
}

// Names lists the interfaces being captured, sorted.
func (l *Live) Names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for n, li := range l.ifs {
		if !li.ended() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Close stops every interface, emitting the open windows, and returns the
// totals and the errors interfaces ended with (an interface that was
// deleted is not an error).
func (l *Live) Close() (LiveStats, error) {
	l.mu.Lock()
	l.closed = true
	names := make([]string, 0, len(l.ifs))
	for n := range l.ifs {
		names = append(names, n)
	}
	l.mu.Unlock()
	// NFLOG stops first, so every reject it read is queued before the
	// interfaces' final drains.
	if l.nflogStop != nil {
		close(l.nflogStop)
		<-l.nflogDone
		l.nflogStop = nil
	}
	for _, n := range names {
		l.Remove(n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.total
	st.RejectsLost += l.rejectsLost
	return st, errors.Join(l.errs...)
}

// run is the capture loop of one interface.
func (l *Live) run(li *liveIface) {
	r := li.ring
	var st LiveStats
	var err error
	defer func() {
		st.KernelDrops = r.Drops()
		r.Close()
		gone := errors.Is(err, syscall.ENODEV)
		l.mu.Lock()
		l.total.add(&st)
		if err != nil && !gone {
			l.errs = append(l.errs, err)
		}
		if l.byIndex[r.Iface.Index] == li {
			delete(l.byIndex, r.Iface.Index)
		}
		// Rejects queued after the last drain are recorded nowhere now.
		l.rejectsLost += uint64(len(li.rejects))
		// An interface whose capture ended by itself (deleted) is let go
		// of here: Sync only removes the ones still running, and a host
		// whose containers come and go would keep every one it saw.
		if l.ifs[li.name] == li {
			delete(l.ifs, li.name)
		}
		l.mu.Unlock()
		switch {
		case gone:
			// Not an error: interfaces come and go (containers, VPNs).
			l.opt.Log.Info("capture ended: the interface is gone", "interface", r.Iface.Name, "frames", st.Frames)
		case err != nil:
			l.opt.Log.Warn("capture ended", "interface", r.Iface.Name, "err", err)
		default:
			l.opt.Log.Info("capture stopped", "interface", r.Iface.Name, "frames", st.Frames, "kernel_drops", st.KernelDrops)
		}
		close(li.done)
	}()
	var mac [6]byte
	copy(mac[:], r.Iface.HardwareAddr)
	it := NewInterface(l.id, r.Iface.Name, mac, len(r.Iface.HardwareAddr) == 6, InterfacePrefixes(&r.Iface))
	cfg := l.opt.Table
	cfg.Start = time.Now().UnixNano()
	emit := cfg.Emit
	if emit == nil {
		emit = func(*flowlog.Record) {}
	}
	cfg.Emit = func(rec *flowlog.Record) {
		l.emitMu.Lock()
		emit(rec)
		l.emitMu.Unlock()
	}
	tbl := NewTable(cfg, []*Interface{it})
	var p Packet
	handle := func(f *Frame) {
		st.Frames++
		if Decode(f.Link, f.Data, &p) != nil {
			st.Undecodable++
			return
		}
		p.Dir = f.Dir
		tbl.Add(0, f.TS, &p)
	}
	drain := func() {
		for {
			select {
			case ev := <-li.rejects:
				st.Rejects++
				tbl.AddReject(0, ev.TS, &ev.Packet, ev.InIndex == 0)
			default:
				return
			}
		}
	}
	emitted := func() uint64 {
		s := tbl.Stats()
		return s.Records + s.NoData + s.SkipData
	}
	// step runs fn, which may emit records, and hands what it emitted on
	// before the ring is read again.
	step := func(fn func()) {
		n := emitted()
		fn()
		if emitted() != n && l.opt.WindowDone != nil {
			l.emitMu.Lock()
			l.opt.WindowDone()
			l.emitMu.Unlock()
		}
	}
	finish := func() {
		step(func() {
			drain()
			tbl.Flush()
		})
		s := tbl.Stats()
		st.Stats = s
	}
	time.Sleep(l.opt.stall)
	for {
		select {
		case <-li.stop:
			finish()
			return
		default:
		}
		var drops uint64
		step(func() {
			drops, err = r.Poll(100*time.Millisecond, handle)
			if drops > 0 {
				tbl.AddDrops(0, drops)
			}
			drain()
			tbl.Advance(time.Now().UnixNano())
		})
		if err != nil {
			err = fmt.Errorf("capture on %s: %w", r.Iface.Name, err)
			finish()
			return
		}
	}
}

// RunLive captures on the named interfaces until stop is closed, then
// flushes every open window.
func RunLive(stop <-chan struct{}, names []string, opt LiveOptions) (LiveStats, error) {
	l, err := StartLive(opt)
	if err != nil {
		return LiveStats{}, err
	}
	for _, n := range names {
		if err := l.Add(n); err != nil {
			l.Close()
			return LiveStats{}, err
		}
	}
	if opt.Ready != nil {
		close(opt.Ready)
	}
	<-stop
	return l.Close()
}

// RunLiveAll captures on every non-loopback interface that is up until
// stop is closed, listing them again every rescan so that interfaces that
// come up are captured and those that go away are released; then it
// flushes every open window. Ready is closed after the first listing.
func RunLiveAll(stop <-chan struct{}, opt LiveOptions, rescan time.Duration) (LiveStats, error) {
	l, err := StartLive(opt)
	if err != nil {
		return LiveStats{}, err
	}
	relist := func() error {
		names, err := UpInterfaces()
		if err != nil {
			return err
		}
		return l.Sync(names)
	}
	if err := relist(); err != nil && len(l.Names()) == 0 {
		l.Close()
		return LiveStats{}, err
	} else if err != nil {
		l.opt.Log.Warn("some interfaces could not be captured", "err", err)
	}
	if len(l.Names()) == 0 {
		l.opt.Log.Warn("no interface is up yet; those that come up will be captured")
	}
	if opt.Ready != nil {
		close(opt.Ready)
	}
	tick := time.NewTicker(rescan)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return l.Close()
		case <-tick.C:
			if err := relist(); err != nil {
				l.opt.Log.Warn("some interfaces could not be captured", "err", err)
			}
		}
	}
}

// UpInterfaces lists the non-loopback interfaces that are up.
func UpInterfaces() ([]string, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagLoopback == 0 {
			names = append(names, ifi.Name)
		}
	}
	return names, nil
}
