package agent

import (
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
)

// runCapture captures with capture.RunLive, the loop `flowwatch capture`
// and serve use too: records go to the shipper and, after every step that
// closed a window, are spooled and fsynced before the ring is read again,
// so a closed window is durable before capture moves on.
func (a *Agent) runCapture(stop <-chan struct{}, id capture.Identity) (capture.LiveStats, error) {
	persist := func() {
		if err := a.Flush(); err != nil {
			// Flush kept the records; the timer retries.
			a.log.Error("spooling records failed; retrying", "err", err)
			a.timer.Reset(time.Second)
		}
	}
	return capture.RunLive(stop, a.cfg.Interfaces, capture.LiveOptions{
		Identity:   id,
		Table:      capture.TableConfig{Interval: a.cfg.Interval, Emit: a.Emit},
		WindowDone: persist,
		Ready:      a.cfg.Ready,
		NFLOGGroup: a.cfg.NFLOGGroup,
		Log:        a.log,
	})
}
