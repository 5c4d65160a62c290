package agent

import (
	"net"
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
)

// rescanEvery is how often an agent capturing every interface looks for
// new and vanished ones.
const rescanEvery = 30 * time.Second

// runCapture captures with capture.Live, the loop `flowwatch capture` and
// serve use too: records go to the shipper and, after every step that
// closed a window, are spooled and fsynced before the ring is read again,
// so a closed window is durable before capture moves on. With no
// interfaces named it captures every non-loopback interface that is up,
// following them as they come and go.
func (a *Agent) runCapture(stop <-chan struct{}, id capture.Identity) (capture.LiveStats, error) {
	persist := func() {
		if err := a.Flush(); err != nil {
			// Flush kept the records; the timer retries.
			a.log.Error("spooling records failed; retrying", "err", err)
			a.timer.Reset(time.Second)
		}
	}
	opt := capture.LiveOptions{
		Identity:   id,
		Table:      capture.TableConfig{Interval: a.cfg.Interval, Emit: a.Emit},
		WindowDone: persist,
		Ready:      a.cfg.Ready,
		NFLOGGroup: a.cfg.NFLOGGroup,
		Log:        a.log,
	}
	if len(a.cfg.Interfaces) > 0 {
		return capture.RunLive(stop, a.cfg.Interfaces, opt)
	}
	l, err := capture.StartLive(opt)
	if err != nil {
		return capture.LiveStats{}, err
	}
	rescan := func() error {
		names, err := upInterfaces()
		if err != nil {
			return err
		}
		return l.Sync(names)
	}
	if err := rescan(); err != nil && len(l.Names()) == 0 {
		l.Close()
		return capture.LiveStats{}, err
	} else if err != nil {
		a.log.Warn("some interfaces could not be captured", "err", err)
	}
	if len(l.Names()) == 0 {
		a.log.Warn("no interface is up yet; those that come up will be captured")
	}
	if opt.Ready != nil {
		close(opt.Ready)
	}
	tick := time.NewTicker(rescanEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return l.Close()
		case <-tick.C:
			if err := rescan(); err != nil {
				a.log.Warn("some interfaces could not be captured", "err", err)
			}
		}
	}
}

// upInterfaces lists the non-loopback interfaces that are up.
func upInterfaces() ([]string, error) {
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
