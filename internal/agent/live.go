package agent

import (
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
)

// rescanEvery is how often an agent capturing every interface looks for
// new and vanished ones.
const rescanEvery = 30 * time.Second

// runCapture captures with capture's live loop, the one `flowwatch
// capture` and serve use too: records go to the shipper and, after every
// step that closed a window, are spooled and fsynced before the ring is
// read again, so a closed window is durable before capture moves on. With
// no interfaces named it captures every non-loopback interface that is
// up, following them as they come and go.
func (a *Agent) runCapture(stop <-chan struct{}, id capture.Identity) (capture.LiveStats, error) {
	opt := capture.LiveOptions{
		Identity:   id,
		Table:      capture.TableConfig{Interval: a.cfg.Interval, Emit: a.Emit},
		WindowDone: a.flushLogged, // on error Flush keeps the records and the timer retries
		Ready:      a.cfg.Ready,
		NFLOGGroup: a.cfg.NFLOGGroup,
		Log:        a.log,
	}
	if len(a.cfg.Interfaces) > 0 {
		return capture.RunLive(stop, a.cfg.Interfaces, opt)
	}
	return capture.RunLiveAll(stop, opt, rescanEvery)
}
