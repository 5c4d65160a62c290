package server

import (
	"errors"
	"fmt"
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
// delivery aggregates them further for 10-minute flow logs. Without the
// privileges for AF_PACKET it says so and returns; the API keeps serving.
// The returned stop flushes open windows into delivery and must run before
// delivery stops.
func startCapture(log *slog.Logger, inv *inventory.Inventory, sink delivery.Sink, nflogGroup uint16) (stop func()) {
	noop := func() {}
	local, ok := inv.LocalInstance()
	if !ok {
		log.Warn("capture: this host is not in the inventory; not capturing")
		return noop
	}
	var names []string
	for _, it := range inv.InstanceInterfaces(local.ID) {
		names = append(names, it.Name)
	}
	if len(names) == 0 {
		log.Warn("capture: this host has no interface with an address to capture on")
		return noop
	}
	batcher := delivery.NewBatcher(sink, 200*time.Millisecond, log)
	stopc := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan error, 1)
	opt := capture.LiveOptions{
		Identity: capture.Identity{AccountID: inv.AccountID(), Region: local.Region, AZID: local.AZID,
			VPCID: local.VPCID, InstanceID: local.ID},
		Table:      capture.TableConfig{Interval: 60, Emit: batcher.Emit},
		Ready:      ready,
		NFLOGGroup: nflogGroup,
	}
	go func() {
		st, err := capture.RunLive(stopc, names, opt)
		if err == nil {
			log.Info("capture stopped", "frames", st.Frames, "kernel_drops", st.KernelDrops, "rejects", st.Rejects)
		}
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		batcher.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission) {
			log.Warn("capture needs root or CAP_NET_RAW (and CAP_NET_ADMIN for --nflog-group); serving the API without capturing this host's traffic", "err", err)
		} else {
			log.Warn("capture could not start; serving the API without capturing this host's traffic", "err", err)
		}
		return noop
	}
	log.Info("capturing", "interfaces", fmt.Sprint(names), "nflog_group", nflogGroup)
	return func() {
		close(stopc)
		if err := <-done; err != nil {
			log.Error("capture failed", "err", err)
		}
		if err := batcher.Close(); err != nil {
			log.Error("handing the last flow records to delivery failed", "err", err)
		}
	}
}
