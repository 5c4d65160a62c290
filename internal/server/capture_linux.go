package server

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
	"github.com/flowwatch/flowwatch/internal/delivery"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// startCapture captures this host's interfaces (as the inventory lists
// them) into delivery with 60-second windows, the finest AWS interval:
// delivery aggregates them further for 10-minute flow logs. It follows the
// inventory: an interface that appears (the inventory rescans the host) is
// captured, one that vanishes is released with its open window emitted.
// Without the privileges for AF_PACKET it says so and returns; the API
// keeps serving. The returned stop flushes open windows into delivery and
// must run before delivery stops.
func startCapture(log *slog.Logger, inv *inventory.Inventory, sink delivery.Sink, nflogGroup uint16) (stop func()) {
	noop := func() {}
	local, ok := inv.LocalInstance()
	if !ok {
		log.Warn("capture: this host is not in the inventory; not capturing")
		return noop
	}
	names := func() []string {
		var out []string
		for _, it := range inv.InstanceInterfaces(local.ID) {
			out = append(out, it.Name)
		}
		return out
	}
	batcher := delivery.NewBatcher(sink, 200*time.Millisecond, log)
	opt := capture.LiveOptions{
		Identity: capture.Identity{AccountID: inv.AccountID(), Region: local.Region, AZID: local.AZID,
			VPCID: local.VPCID, InstanceID: local.ID},
		Table: capture.TableConfig{Interval: 60, Emit: batcher.Emit},
		// A closed window goes to delivery at once, not a linger later.
		WindowDone: func() {
			if err := batcher.Flush(); err != nil {
				log.Error("handing flow records to delivery failed; retrying", "err", err)
			}
		},
		NFLOGGroup: nflogGroup,
		Log:        log,
	}
	explain := func(err error) {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission) {
			log.Warn("capture needs root or CAP_NET_RAW (and CAP_NET_ADMIN for --nflog-group); serving the API without capturing this host's traffic", "err", err)
		} else {
			log.Warn("capture could not start; serving the API without capturing this host's traffic", "err", err)
		}
	}
	live, err := capture.StartLive(opt)
	if err != nil {
		batcher.Close()
		explain(err)
		return noop
	}
	first := names()
	if err := live.Sync(first); err != nil && len(live.Names()) == 0 {
		live.Close()
		batcher.Close()
		explain(err)
		return noop
	} else if err != nil {
		log.Warn("capture: some interfaces could not be captured", "err", err)
	}
	if len(first) == 0 {
		log.Warn("capture: this host has no interface to capture on yet; interfaces that appear will be")
	}
	log.Info("capturing", "interfaces", live.Names(), "nflog_group", nflogGroup)

	// Follow the inventory's view of this host's interfaces.
	changed, unsubscribe := inv.Subscribe()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-changed:
				if err := live.Sync(names()); err != nil {
					log.Warn("capture: some interfaces could not be captured", "err", err)
				}
			}
		}
	}()
	return func() {
		unsubscribe()
		close(quit)
		<-done
		st, err := live.Close()
		if err != nil {
			log.Error("capture failed", "err", err)
		}
		log.Info("capture stopped", "frames", st.Frames, "kernel_drops", st.KernelDrops, "rejects", st.Rejects)
		if err := batcher.Close(); err != nil {
			log.Error("handing the last flow records to delivery failed", "err", err)
		}
	}
}
