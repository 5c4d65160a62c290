package agent

import (
	"fmt"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
)

// runCapture is capture.RunLive's loop (without NFLOG) with one change
// the agent needs: after every step that may close a window, the records
// it emitted are spooled and fsynced before the ring is read again, so a
// closed window is durable before capture moves on, rather than a linger
// later.
func (a *Agent) runCapture(stop <-chan struct{}, id capture.Identity) (capture.LiveStats, error) {
	id = id.Fill(capture.MachineID())
	var rings []*capture.Ring
	defer func() {
		for _, r := range rings {
			r.Close()
		}
	}()
	for _, n := range a.cfg.Interfaces {
		r, err := capture.OpenRing(n, capture.RingConfig{})
		if err != nil {
			return capture.LiveStats{}, err
		}
		rings = append(rings, r)
	}
	if a.cfg.Ready != nil {
		close(a.cfg.Ready)
	}
	var mu sync.Mutex
	var total capture.LiveStats
	var wg sync.WaitGroup
	errs := make(chan error, len(rings))
	for _, r := range rings {
		wg.Add(1)
		go func(r *capture.Ring) {
			defer wg.Done()
			var mac [6]byte
			copy(mac[:], r.Iface.HardwareAddr)
			it := capture.NewInterface(id, r.Iface.Name, mac, len(r.Iface.HardwareAddr) == 6, capture.InterfacePrefixes(&r.Iface))
			tbl := capture.NewTable(capture.TableConfig{Interval: a.cfg.Interval, Start: time.Now().UnixNano(), Emit: a.Emit}, []*capture.Interface{it})
			var p capture.Packet
			var frames, undecodable uint64
			handle := func(f *capture.Frame) {
				frames++
				if capture.Decode(f.Link, f.Data, &p) != nil {
					undecodable++
					return
				}
				p.Dir = f.Dir
				tbl.Add(0, f.TS, &p)
			}
			persist := func() {
				if err := a.Flush(); err != nil {
					// Flush kept the records; the timer retries.
					a.log.Error("spooling records failed; retrying", "err", err)
					a.timer.Reset(time.Second)
				}
			}
			finish := func() {
				tbl.Flush()
				persist()
				s := tbl.Stats()
				mu.Lock()
				total.Packets += s.Packets
				total.Bytes += s.Bytes
				total.Records += s.Records
				total.NoData += s.NoData
				total.SkipData += s.SkipData
				total.Evicted += s.Evicted
				total.Excluded += s.Excluded
				total.Frames += frames
				total.Undecodable += undecodable
				total.KernelDrops += r.Drops()
				mu.Unlock()
			}
			for {
				select {
				case <-stop:
					finish()
					return
				default:
				}
				drops, err := r.Poll(100*time.Millisecond, handle)
				if err != nil {
					errs <- fmt.Errorf("capture on %s: %w", r.Iface.Name, err)
					finish()
					return
				}
				if drops > 0 {
					tbl.AddDrops(0, drops)
				}
				tbl.Advance(time.Now().UnixNano())
				persist()
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	return total, <-errs
}
