package capture

import (
	"encoding/binary"
	"math"
	"net/netip"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// Interface is one monitored interface as the flow table sees it.
type Interface struct {
	Name string
	// Meta carries the interface's identity fields (account-id,
	// interface-id, vpc-id, subnet-id, instance-id, region, az-id); the flow
	// fields are overwritten for every record.
	Meta flowlog.Record
	// Primary4 is written as srcaddr of egress and dstaddr of ingress IPv4
	// records, whatever address the packet used, as AWS does with the
	// ENI's primary private IPv4; pkt-srcaddr/pkt-dstaddr keep the real one.
	Primary4 netip.Addr
	// Prefixes are the interface's addresses with their on-link prefixes:
	// they decide direction when the capture does not, and traffic-path 1.
	Prefixes []netip.Prefix
	MAC      [6]byte
	HasMAC   bool
}

func (it *Interface) isLocal(a netip.Addr) bool {
	for _, p := range it.Prefixes {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

func (it *Interface) onLink(a netip.Addr) bool {
	for _, p := range it.Prefixes {
		if p.Bits() < p.Addr().BitLen() && p.Contains(a) {
			return true
		}
	}
	return false
}

// TableConfig configures a flow table.
type TableConfig struct {
	Interval int // aggregation window in seconds: 60 or 600 (default 600, as AWS)
	// MaxFlows bounds the flows held across interfaces (default 1<<20). A
	// new flow beyond it evicts the interface's oldest flow, which is
	// emitted at once; later packets of that flow start a new record.
	MaxFlows int
	// WindowBounds writes start/end as the window's bounds (what AWS's
	// examples show) instead of the first and last packet's second (what
	// AWS documents).
	WindowBounds bool
	// Start (unix ns) is when monitoring began: NODATA records cover idle
	// windows from here. Zero means the first packet's window.
	Start int64
	// Emit receives every record; the pointer is only valid during the call.
	Emit func(*flowlog.Record)
}

// Stats counts what the table has seen.
type Stats struct {
	Packets  uint64 // packets aggregated
	Bytes    uint64
	Records  uint64 // OK records emitted
	NoData   uint64 // NODATA records emitted
	SkipData uint64 // SKIPDATA records emitted (windows in which the capture lost packets)
	Evicted  uint64 // flows emitted early because the table was full
	Excluded uint64 // packets AWS never logs (DHCP, link-local AWS services)
	Late     uint64 // packets older than their interface's open window
}

// flowKey is the 5-tuple and direction packed into five words: source and
// destination as 16-byte addresses, then ports, protocol and flags.
type flowKey struct {
	w [5]uint64
}

func makeKey(p *Packet, egress bool) flowKey {
	var k flowKey
	setKey(&k, p, egress)
	return k
}

// setKey writes p's key into k with one 8-byte store per word: building a
// key in a local and copying it out mixed narrow stores with wide loads,
// which stalled on store forwarding and cost a fifth of the pcap path.
func setKey(k *flowKey, p *Packet, egress bool) {
	var dir uint64
	if egress {
		dir = 1 << 41
	}
	ports := uint64(p.SrcPort) | uint64(p.DstPort)<<16 | uint64(p.Proto)<<32 | dir
	if p.Src.Is4() && p.Dst.Is4() {
		// The words As16 would give (::ffff:a.b.c.d), without building
		// the 16-byte arrays: most traffic is IPv4 and this is per packet.
		s, d := p.Src.As4(), p.Dst.As4()
		k.w[0] = 0
		k.w[1] = 0xffff0000 | uint64(binary.LittleEndian.Uint32(s[:]))<<32
		k.w[2] = 0
		k.w[3] = 0xffff0000 | uint64(binary.LittleEndian.Uint32(d[:]))<<32
		k.w[4] = ports
		return
	}
	s, d := p.Src.As16(), p.Dst.As16()
	k.w[0] = binary.LittleEndian.Uint64(s[0:8])
	k.w[1] = binary.LittleEndian.Uint64(s[8:16])
	k.w[2] = binary.LittleEndian.Uint64(d[0:8])
	k.w[3] = binary.LittleEndian.Uint64(d[8:16])
	if !p.Src.Is4() {
		ports |= 1 << 40
	}
	k.w[4] = ports
}

// keyReject marks the REJECT flow of a 5-tuple and direction, counted
// apart from its ACCEPT flow.
const keyReject = 1 << 42

// eq compares word by word: == on the struct calls the runtime's
// memequal, which profiles showed as a third of the pcap path.
func (k *flowKey) eq(o *flowKey) bool {
	return k.w[4] == o.w[4] && k.w[0] == o.w[0] && k.w[1] == o.w[1] && k.w[2] == o.w[2] && k.w[3] == o.w[3]
}

func (k *flowKey) addrs() (src, dst netip.Addr, v6 bool) {
	var s, d [16]byte
	binary.LittleEndian.PutUint64(s[0:8], k.w[0])
	binary.LittleEndian.PutUint64(s[8:16], k.w[1])
	binary.LittleEndian.PutUint64(d[0:8], k.w[2])
	binary.LittleEndian.PutUint64(d[8:16], k.w[3])
	src, dst = netip.AddrFrom16(s), netip.AddrFrom16(d)
	v6 = k.w[4]&(1<<40) != 0
	if !v6 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	return src, dst, v6
}

func (k *flowKey) ports() (sport, dport uint16, proto uint8) {
	return uint16(k.w[4]), uint16(k.w[4] >> 16), uint8(k.w[4] >> 32)
}

func (k *flowKey) egress() bool { return k.w[4]&(1<<41) != 0 }

// flowEntry is one 64-byte cache line: key, times, counters and flags.
type flowEntry struct {
	key     flowKey // 40 bytes
	first   uint32  // unix seconds of the first and last packet
	last    uint32
	bytes   uint64
	packets uint32 // a full counter is emitted early, see Add
	flags   uint8  // TCP flags as AWS reports them
	bits    uint8  // entryDead, entryOnLink
	_       [2]byte
}

// flowStore holds an interface's flows in fixed chunks rather than one
// growing slice: adding a flow never copies the others, and a million
// flows leave no outgrown copies behind for the GC, so the heap stays
// near what the flows need (see BenchmarkTableMillionFlows).
type flowStore struct {
	chunks []*[flowChunk]flowEntry
	n      int32
}

const flowChunk = 4096 // 256 KiB of entries

func (s *flowStore) at(i int32) *flowEntry {
	return &s.chunks[uint32(i)/flowChunk][uint32(i)%flowChunk]
}

func (s *flowStore) push(e flowEntry) int32 {
	i := s.n
	if int(i/flowChunk) == len(s.chunks) {
		s.chunks = append(s.chunks, new([flowChunk]flowEntry))
	}
	*s.at(i) = e
	s.n++
	return i
}

// reset empties the store, keeping its chunks for the next window.
func (s *flowStore) reset() { s.n = 0 }

const (
	entryDead   = 1 << iota // emitted early and removed from the index
	entryOnLink             // egress to an address on the interface's subnet
)

type ifState struct {
	it     *Interface
	window int64 // index of the open window, -1 before the first
	idx    flowIndex
	// last is the flow added to last, nil after the window closed (its
	// chunk is reused; the pointer would see a flow no longer held).
	last   *flowEntry
	drops  uint64 // packets the capture lost in the open window
	active bool   // the open window has had traffic (its flows may all be evicted)
	// debt counts dropped packets the firewall reported before the
	// capture delivered them, per ACCEPT flow key; cleared with the window.
	debt map[flowKey]uint32
	// sec is the unix second of the previous packet, which began at
	// secStart (ns); a packet in the same second skips the divisions.
	sec      uint32
	secStart int64
	flows    flowStore
	head     int32 // oldest possibly-live entry, for eviction
	live     int
}

// Table aggregates packets into flow records with AWS's semantics: one
// record per (interface, 5-tuple, direction) per aggregation window.
// It is not safe for concurrent use; give each capture goroutine its own
// table or serialise calls.
type Table struct {
	cfg     TableConfig
	ifs     []ifState
	ivNs    int64
	live    int
	stats   Stats
	started bool
	// startWindow is the window monitoring began in.
	startWindow int64
	rec         flowlog.Record
	touch       uint64 // see AddBatch
}

// NewTable returns a table for the given interfaces; Add's ifIndex indexes
// this slice.
func NewTable(cfg TableConfig, ifaces []*Interface) *Table {
	if cfg.Interval == 0 {
		cfg.Interval = 600
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = 1 << 20
	}
	if cfg.Emit == nil {
		cfg.Emit = func(*flowlog.Record) {}
	}
	t := &Table{cfg: cfg, ivNs: int64(cfg.Interval) * 1e9}
	t.ifs = make([]ifState, len(ifaces))
	for i, it := range ifaces {
		t.ifs[i] = ifState{it: it, window: -1, secStart: math.MinInt64 / 2}
		t.ifs[i].idx.init(1024)
	}
	if cfg.Start != 0 {
		t.begin(cfg.Start)
	}
	return t
}

func (t *Table) begin(ns int64) {
	t.started = true
	t.startWindow = ns / t.ivNs
	for i := range t.ifs {
		t.ifs[i].window = ns / t.ivNs
	}
}

// AddInterface adds an interface (one found later in a pcapng file) and
// returns its index for Add.
func (t *Table) AddInterface(it *Interface) int {
	st := ifState{it: it, window: -1, secStart: math.MinInt64 / 2}
	st.idx.init(1024)
	if t.started {
		st.window = t.startWindow
	}
	t.ifs = append(t.ifs, st)
	return len(t.ifs) - 1
}

// Stats returns the counters so far.
func (t *Table) Stats() Stats { return t.stats }

// Live is the number of flows held.
func (t *Table) Live() int { return t.live }

// excluded is traffic AWS never logs (spec §3.6) that a Linux host also
// sees: DHCP and the link-local AWS metadata, DNS and time addresses.
func excluded(p *Packet) bool {
	if p.Proto == 17 {
		s, d := p.SrcPort, p.DstPort
		if (s == 67 || s == 68) && (d == 67 || d == 68) || (s == 546 || s == 547) && (d == 546 || d == 547) {
			return true
		}
	}
	return isAWSLinkLocal(p.Src) || isAWSLinkLocal(p.Dst)
}

// excluded is excluded(p) read from the key's words, cheaper per packet.
func (k *flowKey) excluded() bool {
	if uint8(k.w[4]>>32) == 17 {
		s, d := uint16(k.w[4]), uint16(k.w[4]>>16)
		if (s == 67 || s == 68) && (d == 67 || d == 68) || (s == 546 || s == 547) && (d == 546 || d == 547) {
			return true
		}
	}
	if k.w[4]&(1<<40) != 0 {
		return false // the AWS link-local addresses are IPv4
	}
	return awsLinkLocalWord(uint32(k.w[1]>>32)) || awsLinkLocalWord(uint32(k.w[3]>>32))
}

// awsLinkLocalWord is isAWSLinkLocal of an IPv4 address read little-endian.
func awsLinkLocalWord(a uint32) bool {
	if a&0xffffff != 169|254<<8|169<<16 {
		return false
	}
	b := a >> 24
	return b == 254 || b == 253 || b == 123
}

func isAWSLinkLocal(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 169 && b[1] == 254 && b[2] == 169 && (b[3] == 254 || b[3] == 253 || b[3] == 123)
}

// Add aggregates one decoded packet seen on interface ifIndex at ts (unix
// ns). Packets of an interface should come in time order; a packet older
// than the interface's open window is counted as late and added to it.
func (t *Table) Add(ifIndex int, ts int64, p *Packet) {
	st, sec := t.enter(ifIndex, ts)
	var k flowKey
	st.key(&k, p)
	t.addKey(st, &k, hashKey(&k), p, sec)
}

// BatchMax is the most packets AddBatch takes at once.
const BatchMax = 16

// AddBatch adds up to BatchMax packets of interface ifIndex, exactly as Add
// would one by one. It first reads every packet's index slot, then every
// flow entry those slots point to, so that the cache misses of a batch
// overlap instead of coming one after another: with thousands of flows,
// those misses are most of the per-packet cost.
func (t *Table) AddBatch(ifIndex int, ts []int64, ps []Packet) {
	if len(ps) > BatchMax || len(ts) < len(ps) {
		panic("capture: AddBatch takes at most BatchMax packets and a time for each")
	}
	st := &t.ifs[ifIndex]
	var keys [BatchMax]flowKey
	var hs [BatchMax]uint32
	var slots [BatchMax]uint64
	var touch uint64
	for i := range ps {
		st.key(&keys[i], &ps[i])
		hs[i] = hashKey(&keys[i])
	}
	// Loads only, so many are in flight at once.
	idx := st.idx.slots
	for i := range ps {
		slots[i] = idx[uint64(hs[i])&st.idx.mask]
	}
	for i := range ps {
		if s := slots[i]; s != 0 {
			if j := int32(uint32(s)) - 1; j < st.flows.n {
				touch += st.flows.at(j).key.w[4]
			}
		}
	}
	t.touch = touch // so the reads above are not optimised away
	for i := range ps {
		st, sec := t.enter(ifIndex, ts[i])
		t.addKey(st, &keys[i], hs[i], &ps[i], sec)
	}
}

// key sets k to the flow key of p on st's interface, its direction
// decided as Add documents.
func (st *ifState) key(k *flowKey, p *Packet) {
	it := st.it
	var egress bool
	switch {
	case p.Dir == DirOutgoing:
		egress = true
	case p.Dir == DirIncoming:
		egress = false
	case it.HasMAC && p.HasMAC && p.SrcMAC == it.MAC:
		egress = true
	case it.HasMAC && p.HasMAC && p.DstMAC == it.MAC:
		egress = false
	default:
		egress = it.isLocal(p.Src)
	}
	setKey(k, p, egress)
}

func (t *Table) addKey(st *ifState, k *flowKey, h uint32, p *Packet, sec uint32) {
	if k.excluded() {
		t.stats.Excluded++
		return
	}
	if len(st.debt) > 0 && st.debt[*k] > 0 {
		// The firewall already reported this packet as dropped (AddReject
		// ran first): it is counted in the REJECT flow.
		if st.debt[*k]--; st.debt[*k] == 0 {
			delete(st.debt, *k)
		}
		return
	}
	t.count(st, k, h, p, sec)
}

// enter moves ifIndex's window up to ts and returns its state and the
// packet's unix second.
func (t *Table) enter(ifIndex int, ts int64) (*ifState, uint32) {
	if !t.started {
		t.begin(ts)
	}
	st := &t.ifs[ifIndex]
	// Divisions are the costliest arithmetic here: only divide when the
	// packet leaves the second (and window) the previous one fell in.
	if uint64(ts-st.secStart) >= 1e9 {
		if w := ts / t.ivNs; w != st.window {
			if w > st.window {
				t.rotate(st, w)
			} else {
				t.stats.Late++
			}
		}
		st.sec = uint32(ts / 1e9)
		st.secStart = int64(st.sec) * 1e9
		if ts < st.secStart {
			st.secStart = ts // before 1970: keep the slow path
		}
	}
	return st, st.sec
}

// count adds p to the flow k of st.
func (t *Table) count(st *ifState, k *flowKey, h uint32, p *Packet, sec uint32) {
	var e *flowEntry
	var slot uint64
	// Packets come in trains: try the interface's last flow first.
	if l := st.last; l != nil && l.key.eq(k) && l.bits&entryDead == 0 {
		e = l
	} else {
		_, e, slot = st.idx.lookup(k, h, &st.flows)
	}
	if e == nil {
		if t.live >= t.cfg.MaxFlows {
			if t.evict(st) == st {
				// Eviction moved slots of this interface: look again.
				_, _, slot = st.idx.lookup(k, h, &st.flows)
			}
		}
		idx := st.flows.push(flowEntry{key: *k, first: sec, last: sec})
		st.idx.insert(slot, idx, h)
		st.live++
		t.live++
		e = st.flows.at(idx)
		if k.egress() && len(st.it.Prefixes) > 0 && st.it.onLink(p.Dst) {
			e.bits |= entryOnLink
		}
	}
	st.last = e
	st.active = true
	if e.packets == 1<<32-1 {
		// The counter is full: emit what it holds, as AWS's variable
		// windows would, and count on from zero.
		t.emitFlow(st, e)
		e.packets, e.bytes, e.flags, e.first = 0, 0, 0, sec
	}
	e.packets++
	e.bytes += uint64(p.Length)
	if sec > e.last {
		e.last = sec
	} else if sec < e.first {
		e.first = sec // a late packet
	}
	if p.Proto == 6 {
		// AWS reports FIN, SYN and RST, and ACK only together with SYN
		// (SYN-ACK = 18); PSH, URG, ECE, CWR and a bare ACK are dropped.
		f := p.TCPFlags & 0x07
		if p.TCPFlags&0x12 == 0x12 {
			f |= 0x10
		}
		e.flags |= f
	}
	t.stats.Packets++
	t.stats.Bytes += uint64(p.Length)
}

// AddReject records a packet the host firewall dropped on interface
// ifIndex: it is counted in a REJECT flow. Ingress drops were also seen by
// the packet capture, which counted them as accepted; that packet is taken
// back from the ACCEPT flow, or, if the capture has not delivered it yet,
// the next matching packet from Add is skipped.
func (t *Table) AddReject(ifIndex int, ts int64, p *Packet, egress bool) {
	st, sec := t.enter(ifIndex, ts)
	if excluded(p) {
		t.stats.Excluded++
		return
	}
	k := makeKey(p, egress)
	if !egress {
		h := hashKey(&k)
		if _, e, slot := st.idx.lookup(&k, h, &st.flows); e != nil && e.packets > 0 {
			e.packets--
			e.bytes -= min(e.bytes, uint64(p.Length))
			t.stats.Packets--
			t.stats.Bytes -= uint64(p.Length)
			if e.packets == 0 {
				e.bits |= entryDead
				st.idx.remove(slot)
				st.live--
				t.live--
			}
		} else {
			if st.debt == nil {
				st.debt = map[flowKey]uint32{}
			}
			st.debt[k]++
		}
	}
	k.w[4] |= keyReject
	t.count(st, &k, hashKey(&k), p, sec)
}

// Advance closes every window that ended before now (unix ns), emitting
// its records and NODATA for idle interfaces. Live capture calls it on a
// timer; file sources get the same effect from packet times.
func (t *Table) Advance(now int64) {
	if !t.started {
		return
	}
	w := now / t.ivNs
	for i := range t.ifs {
		if st := &t.ifs[i]; w > st.window {
			t.rotate(st, w)
		}
	}
}

// Flush emits the records of every open window, as at the end of a file
// or on SIGTERM.
func (t *Table) Flush() {
	if !t.started {
		return
	}
	for i := range t.ifs {
		st := &t.ifs[i]
		t.closeWindow(st)
		st.window++
	}
}

// rotate closes st's open window and any idle windows before w.
func (t *Table) rotate(st *ifState, w int64) {
	t.closeWindow(st)
	for x := st.window + 1; x < w; x++ {
		t.emitNoData(st, x)
	}
	st.window = w
}

// AddDrops records that the capture of interface ifIndex lost n packets
// in its open window: the window gets a SKIPDATA record, as AWS writes
// when it could not capture everything.
func (t *Table) AddDrops(ifIndex int, n uint64) {
	t.ifs[ifIndex].drops += n
}

func (t *Table) closeWindow(st *ifState) {
	skipped := st.drops > 0
	if skipped {
		r := &t.rec
		*r = st.it.Meta
		r.ClearFlow()
		r.Start = st.window * int64(t.cfg.Interval)
		r.End = r.Start + int64(t.cfg.Interval)
		r.LogStatus = flowlog.StatusSkipData
		t.stats.SkipData++
		t.cfg.Emit(r)
		st.drops = 0
	}
	if !st.active && !skipped {
		t.emitNoData(st, st.window)
	} else if st.live > 0 {
		for i := int32(0); i < st.flows.n; i++ {
			if e := st.flows.at(i); e.bits&entryDead == 0 {
				t.emitFlow(st, e)
			}
		}
	}
	t.live -= st.live
	st.live, st.head, st.active = 0, 0, false
	st.flows.reset()
	st.last = nil
	st.idx.reset()
	clear(st.debt)
}

// evict emits and drops the oldest flow of st (or of the fullest interface
// when st holds none) and returns the interface it took from.
func (t *Table) evict(st *ifState) *ifState {
	victim := st
	if victim.live == 0 {
		for i := range t.ifs {
			if t.ifs[i].live > victim.live {
				victim = &t.ifs[i]
			}
		}
	}
	for victim.head < victim.flows.n && victim.flows.at(victim.head).bits&entryDead != 0 {
		victim.head++
	}
	if victim.head == victim.flows.n {
		return nil
	}
	e := victim.flows.at(victim.head)
	t.emitFlow(victim, e)
	e.bits |= entryDead
	_, _, slot := victim.idx.lookup(&e.key, hashKey(&e.key), &victim.flows)
	victim.idx.remove(slot)
	victim.live--
	t.live--
	t.stats.Evicted++
	return victim
}

func (t *Table) emitNoData(st *ifState, w int64) {
	r := &t.rec
	*r = st.it.Meta
	r.ClearFlow()
	r.Start = w * int64(t.cfg.Interval)
	r.End = r.Start + int64(t.cfg.Interval)
	r.LogStatus = flowlog.StatusNoData
	t.stats.NoData++
	t.cfg.Emit(r)
}

func (t *Table) emitFlow(st *ifState, e *flowEntry) {
	r := &t.rec
	it := st.it
	*r = it.Meta
	k := &e.key
	src, dst, v6 := k.addrs()
	r.Type = flowlog.TypeIPv4
	if v6 {
		r.Type = flowlog.TypeIPv6
	}
	r.PktSrcAddr, r.PktDstAddr = src, dst
	r.SrcAddr, r.DstAddr = src, dst
	r.TrafficPath = flowlog.NA
	if k.egress() {
		r.FlowDirection = flowlog.DirEgress
		if !v6 && it.Primary4.IsValid() {
			r.SrcAddr = it.Primary4
		}
		if e.bits&entryOnLink != 0 {
			r.TrafficPath = 1
		}
	} else {
		r.FlowDirection = flowlog.DirIngress
		if !v6 && it.Primary4.IsValid() {
			r.DstAddr = it.Primary4
		}
	}
	sport, dport, proto := k.ports()
	r.SrcPort, r.DstPort, r.Protocol = int32(sport), int32(dport), int32(proto)
	r.Packets, r.Bytes = int64(e.packets), int64(e.bytes)
	if t.cfg.WindowBounds {
		r.Start = st.window * int64(t.cfg.Interval)
		r.End = r.Start + int64(t.cfg.Interval)
	} else {
		r.Start, r.End = int64(e.first), int64(e.last)
	}
	r.Action = flowlog.ActionAccept
	if k.w[4]&keyReject != 0 {
		r.Action = flowlog.ActionReject
	}
	r.LogStatus = flowlog.StatusOK
	r.TCPFlags = int32(e.flags)
	r.RejectReason = ""
	t.stats.Records++
	t.cfg.Emit(r)
}
