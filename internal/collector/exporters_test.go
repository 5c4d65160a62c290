package collector

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// TestExportersInInventory: the exporters and interfaces flows came from,
// registered as hosts, are listed by the inventory under the very
// interface and instance ids the records carry.
func TestExportersInInventory(t *testing.T) {
	var recs []flowlog.Record
	a := NewAggregator(AggregatorConfig{Interval: 60, Emit: func(r *flowlog.Record) { recs = append(recs, *r) }})
	r1, r2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::7")
	for _, f := range []Flow{
		{Exporter: r1, InIf: 3, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Protocol: 6, Packets: 1, End: 1000},
		{Exporter: r1, OutIf: 7, Egress: true, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Protocol: 6, Packets: 1, End: 1000},
		{Exporter: r2, InIf: 1, Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Protocol: 17, Packets: 1, End: 1000},
	} {
		a.Add(&f)
	}
	// Known from the flows, before any window closed.
	hosts := a.Exporters()
	if len(recs) != 0 {
		t.Fatalf("records before Flush: %v", recs)
	}
	a.Flush()
	if len(hosts) != 2 || a.SeenChanges != 3 {
		t.Fatalf("exporters %+v, changes %d", hosts, a.SeenChanges)
	}
	inv, err := inventory.New(inventory.Config{Seed: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := inv.SetHost(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs {
		it, ok := inv.Interface(r.InterfaceID)
		if !ok {
			t.Fatalf("record's interface %s is not in the inventory (%v)", r.InterfaceID, inv.Interfaces())
		}
		if it.InstanceID != r.InstanceID {
			t.Errorf("interface %s: instance %s, record says %s", it.ID, it.InstanceID, r.InstanceID)
		}
		inst, _ := inv.Instance(r.InstanceID)
		if !inst.Remote || !slices.Contains(inst.Interfaces, it.ID) {
			t.Errorf("instance %+v does not hold %s", inst, it.ID)
		}
	}
	if n := len(inv.Interfaces()); n != 3 {
		t.Errorf("%d interfaces, want 3", n)
	}
	// Seen again: no change to register.
	a.Add(&Flow{Exporter: r1, InIf: 3, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Protocol: 6, Packets: 1, End: 2000})
	a.Flush()
	if a.SeenChanges != 3 {
		t.Errorf("changes %d after a known interface", a.SeenChanges)
	}
}

// TestExportersBoundCheap: once maxSeenInterfaces exporter interfaces are
// noted, each flow from yet another (spoofed) exporter must cost O(1), not
// a walk over every exporter seen: a flood of datagrams from new source
// addresses would otherwise cost thousands of map steps per flow.
func TestExportersBoundCheap(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Interval: 60})
	addr := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	for i := 0; i < maxSeenInterfaces; i++ {
		a.note(addr(i), 1)
	}
	if a.SeenChanges != maxSeenInterfaces {
		t.Fatalf("changes %d", a.SeenChanges)
	}
	// 200,000 notes: ~10 ms when each is O(1); a walk over the 4096
	// exporters per note takes 800M map steps (several seconds).
	start := time.Now()
	for i := maxSeenInterfaces; i < maxSeenInterfaces+200_000; i++ {
		a.note(addr(i), 1)
	}
	took := time.Since(start)
	if a.SeenChanges != maxSeenInterfaces || len(a.seen) != maxSeenInterfaces {
		t.Fatalf("past the bound: changes %d, exporters %d", a.SeenChanges, len(a.seen))
	}
	if took > time.Second {
		t.Fatalf("200,000 notes past the bound took %v", took)
	}
}
