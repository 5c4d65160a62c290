package collector

import (
	"net/netip"
	"sort"
	"strconv"
	"sync"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Identity is what records say about where they come from; exporters and
// their interfaces get derived ids.
type Identity struct {
	AccountID string // default 000000000000
	Region    string // default us-east-1
	AZID      string // default use1-az1
	VPCID     string // "" writes "-"
}

func (id Identity) fill() Identity {
	if id.AccountID == "" {
		id.AccountID = "000000000000"
	}
	if id.Region == "" {
		id.Region = "us-east-1"
	}
	if id.AZID == "" {
		id.AZID = "use1-az1"
	}
	return id
}

// InterfaceID is the interface id of ifIndex on exporter: stable for the
// pair, whichever collector receives the flows. It is the id the
// inventory gives interface IfName(ifIndex) of instance InstanceID(exporter)
// (see ExporterHost), so a registered exporter's interfaces are listed by
// describe-network-interfaces under the ids its records carry.
func InterfaceID(exporter netip.Addr, ifIndex uint32) string {
	return ids.get(idKey{exporter.Unmap(), ifIndex, true})
}

// IfName names an exporter's interface by its SNMP ifIndex, the only name
// NetFlow, IPFIX and sFlow give it.
func IfName(ifIndex uint32) string { return "ifindex" + strconv.FormatUint(uint64(ifIndex), 10) }

// InstanceID is the instance id standing for exporter.
func InstanceID(exporter netip.Addr) string {
	return ids.get(idKey{exporter.Unmap(), 0, false})
}

// ids caches derived ids: hashing per record would cost more than
// decoding it, and an installation has few exporters and interfaces.
var ids = idCache{m: map[idKey]string{}}

type idKey struct {
	exporter netip.Addr
	ifIndex  uint32
	eni      bool
}

type idCache struct {
	mu sync.RWMutex
	m  map[idKey]string
}

func (c *idCache) get(k idKey) string {
	c.mu.RLock()
	s, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	if k.eni {
		s = inventory.InterfaceID(InstanceID(k.exporter), IfName(k.ifIndex), "")
	} else {
		s = inventory.ExporterInstanceID(k.exporter.String())
	}
	c.mu.Lock()
	if len(c.m) > 1<<16 {
		clear(c.m) // bounded: a flood of spoofed exporters cannot grow it forever
	}
	c.m[k] = s
	c.mu.Unlock()
	return s
}

// awsFlags keeps the TCP flags AWS reports: FIN, SYN, RST, and ACK only
// together with SYN (an exported flow's flags are already OR-ed, so a
// SYN and an ACK in different packets read as SYN-ACK, as in AWS's own
// aggregation).
func awsFlags(f uint8) int32 {
	v := int32(f & 0x07)
	if f&0x12 == 0x12 {
		v |= 0x10
	}
	return v
}

// Record fills r from f; start/end are the flow's first and last packet
// (unix seconds).
func (id Identity) Record(r *flowlog.Record, f *Flow) {
	id = id.fill()
	r.Reset()
	r.AccountID, r.Region, r.AZID, r.VPCID = id.AccountID, id.Region, id.AZID, id.VPCID
	r.InterfaceID = InterfaceID(f.Exporter, f.Interface())
	r.InstanceID = InstanceID(f.Exporter)
	r.SrcAddr, r.DstAddr = f.Src.Unmap(), f.Dst.Unmap()
	r.PktSrcAddr, r.PktDstAddr = r.SrcAddr, r.DstAddr
	r.Type = flowlog.TypeIPv4
	if r.SrcAddr.Is6() {
		r.Type = flowlog.TypeIPv6
	}
	r.SrcPort, r.DstPort, r.Protocol = int32(f.SrcPort), int32(f.DstPort), int32(f.Protocol)
	r.Packets, r.Bytes = int64(f.Packets), int64(f.Bytes)
	r.Start, r.End = f.Start/1000, f.End/1000
	r.Action, r.LogStatus = flowlog.ActionAccept, flowlog.StatusOK
	r.TCPFlags = awsFlags(f.TCPFlags)
	r.FlowDirection = flowlog.DirIngress
	if f.Egress {
		r.FlowDirection = flowlog.DirEgress
	}
}

// AggregatorConfig configures an Aggregator.
type AggregatorConfig struct {
	Identity Identity
	Interval int // seconds: 60 or 600 (default 600, as AWS)
	// WindowBounds writes start/end as the window bounds instead of the
	// flows' first and last packet (clamped to the window).
	WindowBounds bool
	// Emit receives each record; the pointer is valid during the call.
	Emit func(*flowlog.Record)
}

type aggKey struct {
	exporter         netip.Addr
	ifIndex          uint32
	egress           bool
	src, dst         netip.Addr
	srcPort, dstPort uint16
	proto            uint8
}

type aggVal struct {
	packets, bytes uint64
	flags          uint8
	first, last    int64 // unix seconds
}

type aggWindow struct {
	index map[aggKey]int
	keys  []aggKey
	vals  []aggVal
}

// Aggregator merges flows into one record per (interface, 5-tuple,
// direction) per window, as capture's flow table does with packets. A
// flow belongs to the window of its last packet. It is not safe for
// concurrent use.
type Aggregator struct {
	cfg     AggregatorConfig
	windows map[int64]*aggWindow
	rec     flowlog.Record
	// seen holds the exporters' interfaces flows came from, so they are
	// registered before their first window closes.
	seen         map[netip.Addr]map[uint32]bool
	lastExporter netip.Addr
	lastIf       uint32
	haveLast     bool
	seenN        int // interfaces in seen: counted, not summed per flow
	// SeenChanges counts additions to seen, so callers know when to
	// register the exporters again.
	SeenChanges uint64
	// Flows and Records count what went in and out.
	Flows, Records uint64
}

// NewAggregator returns an empty Aggregator.
func NewAggregator(cfg AggregatorConfig) *Aggregator {
	if cfg.Interval <= 0 {
		cfg.Interval = 600
	}
	cfg.Identity = cfg.Identity.fill()
	if cfg.Emit == nil {
		cfg.Emit = func(*flowlog.Record) {}
	}
	return &Aggregator{cfg: cfg, windows: map[int64]*aggWindow{}, seen: map[netip.Addr]map[uint32]bool{}}
}

// Add merges f into its window.
func (a *Aggregator) Add(f *Flow) {
	a.Flows++
	iv := int64(a.cfg.Interval)
	end := f.End / 1000
	w := floorDiv(end, iv)
	win := a.windows[w]
	if win == nil {
		win = &aggWindow{index: map[aggKey]int{}}
		a.windows[w] = win
	}
	k := aggKey{exporter: f.Exporter, ifIndex: f.Interface(), egress: f.Egress, src: f.Src, dst: f.Dst,
		srcPort: f.SrcPort, dstPort: f.DstPort, proto: f.Protocol}
	if !a.haveLast || k.exporter != a.lastExporter || k.ifIndex != a.lastIf {
		// Most flows of a datagram share exporter and interface.
		a.note(k.exporter, k.ifIndex)
		a.lastExporter, a.lastIf, a.haveLast = k.exporter, k.ifIndex, true
	}
	start := max(f.Start/1000, w*iv)
	i, ok := win.index[k]
	if !ok {
		i = len(win.keys)
		win.index[k] = i
		win.keys = append(win.keys, k)
		win.vals = append(win.vals, aggVal{first: start, last: end})
	}
	v := &win.vals[i]
	v.packets += f.Packets
	v.bytes += f.Bytes
	v.flags |= f.TCPFlags
	v.first = min(v.first, start)
	v.last = max(v.last, end)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Advance emits the windows that ended at or before now (unix seconds),
// oldest first.
func (a *Aggregator) Advance(now int64) {
	iv := int64(a.cfg.Interval)
	a.emit(func(w int64) bool { return (w+1)*iv <= now })
}

// Flush emits every window, as on shutdown.
func (a *Aggregator) Flush() { a.emit(func(int64) bool { return true }) }

// Pending is the number of records held.
func (a *Aggregator) Pending() int {
	n := 0
	for _, w := range a.windows {
		n += len(w.keys)
	}
	return n
}

func (a *Aggregator) emit(due func(int64) bool) {
	var ws []int64
	for w := range a.windows {
		if due(w) {
			ws = append(ws, w)
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i] < ws[j] })
	iv := int64(a.cfg.Interval)
	for _, w := range ws {
		win := a.windows[w]
		delete(a.windows, w)
		for i, k := range win.keys {
			v := &win.vals[i]
			f := Flow{Exporter: k.exporter, Egress: k.egress, Src: k.src, Dst: k.dst, SrcPort: k.srcPort, DstPort: k.dstPort,
				Protocol: k.proto, TCPFlags: v.flags, Packets: v.packets, Bytes: v.bytes, Start: v.first * 1000, End: v.last * 1000}
			if k.egress {
				f.OutIf = k.ifIndex
			} else {
				f.InIf = k.ifIndex
			}
			a.cfg.Identity.Record(&a.rec, &f)
			if a.cfg.WindowBounds {
				a.rec.Start, a.rec.End = w*iv, (w+1)*iv
			}
			a.Records++
			a.cfg.Emit(&a.rec)
		}
	}
}

// maxSeenInterfaces bounds what Exporters reports: past it, new exporter
// interfaces still get records, but are not registered (a flood of
// spoofed exporters must not grow the inventory without bound).
const maxSeenInterfaces = 4096

func (a *Aggregator) note(exporter netip.Addr, ifIndex uint32) {
	m := a.seen[exporter]
	if m[ifIndex] || a.seenN >= maxSeenInterfaces {
		return
	}
	if m == nil {
		m = map[uint32]bool{}
		a.seen[exporter] = m
	}
	m[ifIndex] = true
	a.seenN++
	a.SeenChanges++
}

// Exporters returns a host for every exporter flows came from, with the
// interfaces they named, sorted by address: what `flowwatch
// collect --endpoint` registers so the server's inventory lists them.
func (a *Aggregator) Exporters() []inventory.HostInfo {
	addrs := make([]netip.Addr, 0, len(a.seen))
	for e := range a.seen {
		addrs = append(addrs, e)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	out := make([]inventory.HostInfo, 0, len(addrs))
	for _, e := range addrs {
		var idx []uint32
		for i := range a.seen[e] {
			idx = append(idx, i)
		}
		sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
		out = append(out, ExporterHost(e, idx))
	}
	return out
}

// ExporterHost is exporter as an inventory host: instance InstanceID(exporter),
// named by its address, with one interface per ifIndex (IfName, no MAC). The
// exporter's own address, as a host prefix, stands for each interface's
// address: flows do not say which addresses the router's interfaces have,
// and the inventory derives subnets from addresses.
func ExporterHost(exporter netip.Addr, ifIndexes []uint32) inventory.HostInfo {
	exporter = exporter.Unmap()
	h := inventory.HostInfo{InstanceID: InstanceID(exporter), Hostname: exporter.String(), Remote: true}
	for _, i := range ifIndexes {
		h.NICs = append(h.NICs, inventory.NIC{Name: IfName(i), Index: int(i), Up: true,
			Addrs: []netip.Prefix{netip.PrefixFrom(exporter, exporter.BitLen())}})
	}
	return h
}
