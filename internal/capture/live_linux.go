package capture

import (
	"fmt"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// LiveOptions configures RunLive.
type LiveOptions struct {
	Identity  Identity
	MachineID string // default MachineID()
	// Table configures each interface's flow table; Emit is called from
	// several goroutines but never concurrently.
	Table TableConfig
	Ring  RingConfig
	// Ready, when set, is closed once every ring is open.
	Ready chan struct{}
	// NFLOGGroup, when not zero, reads packets the firewall drops from
	// that nflog group (nftables "log group N" on drop/reject rules) and
	// records them as REJECT.
	NFLOGGroup uint16

	// stall delays the first poll, so tests can overflow a small ring.
	stall time.Duration
}

// LiveStats reports a live capture.
type LiveStats struct {
	Stats
	Frames, Undecodable, KernelDrops uint64
	Rejects, RejectsLost             uint64 // firewall drops recorded; dropped for a full queue
}

// RunLive captures on the named interfaces (one AF_PACKET ring and one
// goroutine each) until stop is closed, then flushes every open window.
func RunLive(stop <-chan struct{}, names []string, opt LiveOptions) (LiveStats, error) {
	if opt.MachineID == "" {
		opt.MachineID = MachineID()
	}
	id := opt.Identity.Fill(opt.MachineID)
	var rings []*Ring
	defer func() {
		for _, r := range rings {
			r.Close()
		}
	}()
	for _, n := range names {
		r, err := OpenRing(n, opt.Ring)
		if err != nil {
			return LiveStats{}, err
		}
		rings = append(rings, r)
	}
	// Firewall drops go to the goroutine owning the interface's table.
	rejects := make(map[int]chan RejectEvent, len(rings))
	for _, r := range rings {
		rejects[r.Iface.Index] = make(chan RejectEvent, 4096)
	}
	var total LiveStats
	var nflogDone chan struct{}
	if opt.NFLOGGroup != 0 {
		nl, err := OpenNFLOG(opt.NFLOGGroup)
		if err != nil {
			return LiveStats{}, err
		}
		nflogDone = make(chan struct{})
		go func() {
			defer close(nflogDone)
			defer nl.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				nl.Read(100*time.Millisecond, func(ev *RejectEvent) {
					idx := ev.InIndex
					if idx == 0 {
						idx = ev.OutIndex
					}
					if ch := rejects[idx]; ch != nil {
						select {
						case ch <- *ev:
						default:
							total.RejectsLost++ // only this goroutine writes it until nflogDone
						}
					}
				})
			}
		}()
	}
	if opt.Ready != nil {
		close(opt.Ready)
	}
	var mu sync.Mutex
	emit := opt.Table.Emit
	var wg sync.WaitGroup
	errs := make(chan error, len(rings))
	for _, r := range rings {
		wg.Add(1)
		go func(r *Ring) {
			defer wg.Done()
			var mac [6]byte
			copy(mac[:], r.Iface.HardwareAddr)
			hasMAC := len(r.Iface.HardwareAddr) == 6
			it := NewInterface(id, r.Iface.Name, mac, hasMAC, InterfacePrefixes(&r.Iface))
			cfg := opt.Table
			cfg.Start = time.Now().UnixNano()
			cfg.Emit = func(rec *flowlog.Record) {
				mu.Lock()
				emit(rec)
				mu.Unlock()
			}
			tbl := NewTable(cfg, []*Interface{it})
			var p Packet
			var st LiveStats
			rej := rejects[r.Iface.Index]
			drain := func() {
				for {
					select {
					case ev := <-rej:
						st.Rejects++
						tbl.AddReject(0, ev.TS, &ev.Packet, ev.InIndex == 0)
					default:
						return
					}
				}
			}
			handle := func(f *Frame) {
				st.Frames++
				if err := Decode(f.Link, f.Data, &p); err != nil {
					st.Undecodable++
					return
				}
				p.Dir = f.Dir
				tbl.Add(0, f.TS, &p)
			}
			time.Sleep(opt.stall)
			for {
				select {
				case <-stop:
					drain()
					tbl.Flush()
					mu.Lock()
					s := tbl.Stats()
					total.Packets += s.Packets
					total.Bytes += s.Bytes
					total.Records += s.Records
					total.NoData += s.NoData
					total.SkipData += s.SkipData
					total.Evicted += s.Evicted
					total.Excluded += s.Excluded
					total.Frames += st.Frames
					total.Undecodable += st.Undecodable
					total.KernelDrops += r.Drops()
					total.Rejects += st.Rejects
					mu.Unlock()
					return
				default:
				}
				drops, err := r.Poll(100*time.Millisecond, handle)
				if err != nil {
					errs <- fmt.Errorf("capture on %s: %w", r.Iface.Name, err)
					tbl.Flush()
					return
				}
				if drops > 0 {
					tbl.AddDrops(0, drops)
				}
				drain()
				tbl.Advance(time.Now().UnixNano())
			}
		}(r)
	}
	wg.Wait()
	if nflogDone != nil {
		<-nflogDone
	}
	close(errs)
	return total, <-errs
}
