// Package flowgen generates realistic, deterministic synthetic VPC flow log
// records: many interfaces, Zipf-distributed peers, mostly TCP with UDP DNS
// and NTP and some ICMP, request/response record pairs, about 13% REJECT,
// and NODATA/SKIPDATA records. The same Config always yields the same
// records, so benchmarks and tests can regenerate their inputs.
package flowgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// Config controls a Generator. Zero fields take the defaults below.
type Config struct {
	Seed       uint64
	Interfaces int       // monitored ENIs; default 64
	Peers      int       // distinct remote addresses; default 100000
	Start      time.Time // simulated time of the first record; default DefaultStart
	Rate       float64   // records per second of simulated time; default 1000
	Interval   int       // aggregation window in seconds; default 60
	AccountID  string    // default "000000000000" (flowwatch's default account)
	Region     string    // default "us-east-1"
	// NoDataRate and SkipDataRate are the fractions of records that are
	// NODATA and SKIPDATA; defaults 0.01 and 0.001 (negative means zero).
	NoDataRate   float64
	SkipDataRate float64
}

// DefaultStart is fixed so that output does not depend on the clock.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Interface is one simulated network interface and its owner metadata.
type Interface struct {
	ID, InstanceID, VPCID, SubnetID, AZID string
	IPv4, IPv6                            netip.Addr // IPv6 is invalid when not dual-stack
	phase                                 int64      // window alignment offset in seconds
	tmpl                                  flowlog.Record
}

// peer is kept to 8 bytes: the table is large and drawn at random, so its
// cache footprint is what the generator's speed depends on.
type peer struct {
	v4    [4]byte
	v6    int32 // index into Generator.peerV6, -1 when IPv4-only
	svc   uint8 // index into publicBlocks + 1; 0 when not an AWS range
	inVPC bool
}

func (g *Generator) peerService(p *peer) string {
	if p.svc == 0 {
		return ""
	}
	return publicBlocks[p.svc-1].service
}

// Generator produces records. It is not safe for concurrent use; run one
// Generator per goroutine (with different seeds) for parallel output.
type Generator struct {
	cfg     Config
	rng     rng
	ifaces  []Interface
	peers   []peer
	peerV6  []netip.Addr
	ifPick  alias
	pePick  alias
	svcPick alias
	n       uint64 // records produced
	startNs int64
	stepNs  float64
	pending flowlog.Record // second record of a request/response pair
	hasPend bool
	// Per-event probabilities of NODATA and SKIPDATA: an accepted event
	// yields two records, so they are scaled up from the per-record rates.
	pNoData, pSkip float64
}

// service is a traffic class: protocol, server port and size profile.
type service struct {
	proto      int32
	port       int32
	weight     float64
	reqPkts    float64 // log2 of the maximum packets of the request flow
	reqSize    int64   // mean IP packet size client→server
	respSize   int64   // mean IP packet size server→client
	singlePkts bool    // one packet each way (DNS, NTP)
}

var services = []service{
	{6, 443, 40, 10, 180, 1100, false},
	{6, 80, 8, 9, 160, 1000, false},
	{6, 22, 3, 8, 120, 160, false},
	{6, 5432, 4, 9, 200, 600, false},
	{6, 3306, 4, 9, 200, 600, false},
	{6, 6379, 4, 7, 90, 120, false},
	{6, 8080, 4, 9, 200, 900, false},
	{6, 9092, 3, 11, 900, 120, false},
	{6, 2049, 1, 11, 400, 1300, false},
	{6, 25, 0.5, 5, 300, 90, false},
	{17, 53, 12, 0, 72, 160, true},
	{17, 123, 3, 0, 76, 76, true},
	{17, 443, 3, 9, 300, 1200, false},
	{17, 4789, 1, 8, 600, 600, false},
	{1, 0, 3, 3, 84, 84, false}, // ICMP echo; ICMPv6 (58) on IPv6 flows
	{50, 0, 0.5, 8, 400, 400, false},
}

// Ports scanners probe; inbound probes are what most REJECTs are.
var scanPorts = []int32{22, 23, 3389, 445, 1433, 3306, 8080, 5900, 6379, 80, 443, 21, 25, 8443, 9200}

// New validates cfg, applies defaults and builds the simulated VPC.
func New(cfg Config) (*Generator, error) {
	if cfg.Interfaces == 0 {
		cfg.Interfaces = 64
	}
	if cfg.Peers == 0 {
		cfg.Peers = 100000
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
	}
	if cfg.Interval == 0 {
		cfg.Interval = 60
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.NoDataRate == 0 {
		cfg.NoDataRate = 0.01
	}
	if cfg.SkipDataRate == 0 {
		cfg.SkipDataRate = 0.001
	}
	switch {
	case cfg.Interfaces < 1 || cfg.Interfaces > 1<<20:
		return nil, fmt.Errorf("flowgen: interfaces %d out of range 1..%d", cfg.Interfaces, 1<<20)
	case cfg.Peers < 1 || cfg.Peers > 1<<24:
		return nil, fmt.Errorf("flowgen: peers %d out of range 1..%d", cfg.Peers, 1<<24)
	case !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("flowgen: rate must be positive")
	case cfg.Interval != 60 && cfg.Interval != 600:
		return nil, fmt.Errorf("flowgen: interval must be 60 or 600")
	}
	g := &Generator{cfg: cfg, rng: rng{cfg.Seed ^ 0x5eed5eed5eed5eed}}
	g.startNs = cfg.Start.Unix() * 1e9
	if cfg.NoDataRate < 0 {
		cfg.NoDataRate = 0
	}
	if cfg.SkipDataRate < 0 {
		cfg.SkipDataRate = 0
	}
	if q := cfg.NoDataRate + cfg.SkipDataRate; q > 0 {
		const perEvent = 1.77 // records per flow event: 23% rejects give 1, the rest 2
		p := q * perEvent / (1 + q*(perEvent-1))
		g.pNoData, g.pSkip = p*cfg.NoDataRate/q, p*cfg.SkipDataRate/q
	}
	g.stepNs = 1e9 / cfg.Rate
	g.buildInterfaces()
	g.buildPeers()
	w := make([]float64, len(services))
	for i, s := range services {
		w[i] = s.weight
	}
	g.svcPick = newAlias(w)
	return g, nil
}

// Config returns the configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Interfaces returns the simulated interfaces; callers must not modify them.
func (g *Generator) Interfaces() []Interface { return g.ifaces }

// Count is the number of records produced so far.
func (g *Generator) Count() uint64 { return g.n }

func (g *Generator) buildInterfaces() {
	r := rng{g.cfg.Seed*0x9e3779b97f4a7c15 + 1}
	prefix := regionAZPrefix(g.cfg.Region)
	vpc := "vpc-" + hex17(r.next())
	nSubnets := 1 + g.cfg.Interfaces/16
	if nSubnets > 200 {
		nSubnets = 200
	}
	subnets := make([]string, nSubnets)
	for i := range subnets {
		subnets[i] = "subnet-" + hex17(r.next())
	}
	g.ifaces = make([]Interface, g.cfg.Interfaces)
	weights := make([]float64, g.cfg.Interfaces)
	for i := range g.ifaces {
		sn := i % nSubnets
		it := &g.ifaces[i]
		it.ID = "eni-" + hex17(r.next())
		it.InstanceID = "i-" + hex17(r.next())
		if r.next()%10 == 0 {
			it.InstanceID = "-" // requester-managed ENI (NAT gateway, endpoint)
		}
		it.VPCID, it.SubnetID = vpc, subnets[sn]
		it.AZID = fmt.Sprintf("%s-az%d", prefix, 1+sn%3)
		// 10.0.0.0/16 VPC with one /24 per subnet; hosts from .4 (AWS
		// reserves .0–.3), so the .1 router is never an interface.
		it.IPv4 = netip.AddrFrom4([4]byte{10, 0, byte(sn), byte(4 + (i/nSubnets)%250)})
		if r.next()%8 == 0 {
			var a [16]byte
			copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0xa1, byte(sn)})
			binary.BigEndian.PutUint64(a[8:], r.next())
			it.IPv6 = netip.AddrFrom16(a)
		}
		it.phase = int64(r.next() % 60)
		weights[i] = 1 / math.Pow(float64(i+1), 0.7)
		t := flowlog.Blank()
		t.AccountID, t.InterfaceID, t.VPCID, t.SubnetID = g.cfg.AccountID, it.ID, it.VPCID, it.SubnetID
		if it.InstanceID != "-" {
			t.InstanceID = it.InstanceID
		}
		t.Region, t.AZID = g.cfg.Region, it.AZID
		if r.next()%10 == 0 { // an ECS task ENI
			cluster := fmt.Sprintf("cluster-%d", i%3)
			task := hex17(r.next()) + hex17(r.next())[:15]
			arnBase := "arn:aws:ecs:" + g.cfg.Region + ":" + g.cfg.AccountID
			t.ECSClusterName = cluster
			t.ECSClusterARN = arnBase + ":cluster/" + cluster
			t.ECSTaskID = task
			t.ECSTaskARN = arnBase + ":task/" + cluster + "/" + task
			t.ECSTaskDefinitionARN = arnBase + fmt.Sprintf(":task-definition/app-%d:%d", i%5, 1+i%7)
			t.ECSServiceName = fmt.Sprintf("svc-%d", i%5)
			t.ECSContainerID = task + "-" + hex17(r.next())[:10]
		}
		it.tmpl = t
	}
	g.ifPick = newAlias(weights)
}

// Public address blocks: (first two octets, AWS service or "").
var publicBlocks = []struct {
	a, b    byte
	service string
}{
	{52, 216, "S3"}, {52, 95, "AMAZON"}, {54, 239, "CLOUDFRONT"}, {3, 5, "EC2"}, {52, 94, "DYNAMODB"},
	{35, 180, "EC2"}, {142, 250, ""}, {151, 101, ""}, {104, 16, ""}, {185, 199, ""}, {198, 51, ""},
	{203, 0, ""}, {192, 0, ""}, {45, 33, ""}, {91, 189, ""}, {77, 88, ""}, {13, 107, ""}, {40, 76, ""},
}

func (g *Generator) buildPeers() {
	r := rng{g.cfg.Seed*0xbf58476d1ce4e5b9 + 2}
	g.peers = make([]peer, g.cfg.Peers)
	weights := make([]float64, g.cfg.Peers)
	for i := range g.peers {
		p := &g.peers[i]
		p.v6 = -1
		x := r.next()
		if x%100 < 35 { // inside the VPC
			p.inVPC = true
			p.v4 = [4]byte{10, 0, byte(x >> 8 % 16), byte(4 + (x>>16)%250)}
		} else {
			bi := (x >> 8) % uint64(len(publicBlocks))
			blk := publicBlocks[bi]
			p.v4 = [4]byte{blk.a, blk.b, byte(x >> 24), byte(1 + (x>>32)%254)}
			if blk.service != "" {
				p.svc = uint8(bi + 1)
			}
		}
		if (x>>40)%5 == 0 {
			var a [16]byte
			if p.inVPC {
				copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0xa1, byte(x >> 8 % 16)})
			} else {
				copy(a[:], []byte{0x26, 0x06, 0x47, 0x00, byte(x >> 48), byte(x >> 56)})
			}
			binary.BigEndian.PutUint64(a[8:], r.next())
			p.v6 = int32(len(g.peerV6))
			g.peerV6 = append(g.peerV6, netip.AddrFrom16(a))
		}
		weights[i] = 1 / math.Pow(float64(i+1), 1.1)
	}
	g.pePick = newAlias(weights)
}

var directions = map[string]string{
	"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
	"southeast": "se", "northeast": "ne", "southwest": "sw", "northwest": "nw",
}

// regionAZPrefix abbreviates a region the way AZ IDs do: us-east-1 → use1,
// ap-southeast-2 → apse2, eu-central-1 → euc1.
func regionAZPrefix(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) != 3 {
		return strings.ReplaceAll(region, "-", "")
	}
	d, ok := directions[parts[1]]
	if !ok {
		d = parts[1][:1]
	}
	return parts[0] + d + parts[2]
}

// Next fills r with the next record.
func (g *Generator) Next(r *flowlog.Record) {
	g.n++
	if g.hasPend {
		*r = g.pending
		g.hasPend = false
		return
	}
	now := g.startNs/1e9 + int64(float64(g.n)*g.stepNs/1e9)
	u := g.rng.float()
	if u < g.pNoData+g.pSkip {
		// Idle interfaces are the unpopular ones: pick uniformly.
		it := &g.ifaces[g.rng.intn(len(g.ifaces))]
		*r = it.tmpl
		r.Start, r.End = g.window(it, now)
		r.LogStatus = flowlog.StatusNoData
		if u < g.pSkip {
			r.LogStatus = flowlog.StatusSkipData
		}
		return
	}
	it := &g.ifaces[g.ifPick.draw(&g.rng)]
	pe := &g.peers[g.pePick.draw(&g.rng)]
	*r = it.tmpl
	r.Start, r.End = g.window(it, now)
	r.LogStatus = flowlog.StatusOK

	local, remote := it.IPv4, netip.AddrFrom4(pe.v4)
	service := g.peerService(pe)
	v6 := it.IPv6.IsValid() && pe.v6 >= 0 && g.rng.next()%3 != 0
	if v6 {
		local, remote = it.IPv6, g.peerV6[pe.v6]
		r.Type = flowlog.TypeIPv6
	} else {
		r.Type = flowlog.TypeIPv4
	}
	ephemeral := int32(32768 + g.rng.intn(28232))

	// Inbound probes rejected by the security group: one record, no reply.
	// 23% of events → about 13% of records, since accepted events yield two.
	if g.rng.next()%1000 < 230 {
		r.Protocol = 6
		r.SrcAddr, r.DstAddr = remote, local
		r.SrcPort, r.DstPort = ephemeral, scanPorts[g.rng.intn(len(scanPorts))]
		if g.rng.next()%8 == 0 {
			r.Protocol, r.SrcPort, r.DstPort = 17, ephemeral, []int32{53, 123, 161, 1900, 5060}[g.rng.intn(5)]
		}
		r.Packets = 1 + int64(g.rng.intn(3))
		size := int64(40 + 4*g.rng.intn(6))
		if v6 {
			size += 20
		}
		r.Bytes = r.Packets * size
		r.Action = flowlog.ActionReject
		if r.Protocol == 6 {
			r.TCPFlags = 2
		} else {
			r.TCPFlags = 0
		}
		r.PktSrcAddr, r.PktDstAddr = remote, local
		r.PktSrcAWSService = service
		r.FlowDirection = flowlog.DirIngress
		if !pe.inVPC && g.rng.next()%50 == 0 {
			r.RejectReason = "BPA"
		}
		return
	}

	svc := &services[g.svcPick.draw(&g.rng)]
	proto := svc.proto
	if proto == 1 && v6 {
		proto = 58
	}
	inbound := g.rng.next()&1 == 0
	var reqPk, respPk int64
	if svc.singlePkts {
		reqPk, respPk = 1, 1
		if g.rng.next()%4 == 0 {
			reqPk, respPk = 2, 2
		}
	} else {
		reqPk = int64(math.Exp2(g.rng.float()*svc.reqPkts)) + 1
		respPk = reqPk*int64(6+g.rng.intn(8))/10 + 1
	}
	reqSize := jitter(&g.rng, svc.reqSize)
	respSize := jitter(&g.rng, svc.respSize)
	if v6 {
		reqSize += 20
		respSize += 20
	}
	var cliFlags, srvFlags int32
	if proto == 6 {
		switch x := g.rng.next() % 100; {
		case x < 60: // short connection inside the window
			cliFlags, srvFlags = 3, 19
		case x < 85: // long-lived, middle windows
			cliFlags, srvFlags = 0, 0
		case x < 93: // opened in this window
			cliFlags, srvFlags = 2, 18
		case x < 98: // closed in this window
			cliFlags, srvFlags = 1, 1
		default: // reset
			cliFlags, srvFlags = 7, 22
		}
	}
	ports := [2]int32{ephemeral, svc.port}
	if proto != 6 && proto != 17 {
		ports = [2]int32{0, 0} // ICMP, ESP: no ports
	}

	// Request flow client→server and response server→client.
	req, resp := r, &g.pending
	*resp = *r
	req.Protocol, resp.Protocol = proto, proto
	req.Packets, req.Bytes = reqPk, reqPk*reqSize
	resp.Packets, resp.Bytes = respPk, respPk*respSize
	req.TCPFlags, resp.TCPFlags = cliFlags, srvFlags
	req.Action, resp.Action = flowlog.ActionAccept, flowlog.ActionAccept
	req.SrcPort, req.DstPort = ports[0], ports[1]
	resp.SrcPort, resp.DstPort = ports[1], ports[0]
	if inbound {
		req.SrcAddr, req.DstAddr = remote, local
		resp.SrcAddr, resp.DstAddr = local, remote
		req.FlowDirection, resp.FlowDirection = flowlog.DirIngress, flowlog.DirEgress
		req.PktSrcAWSService, resp.PktDstAWSService = service, service
	} else {
		req.SrcAddr, req.DstAddr = local, remote
		resp.SrcAddr, resp.DstAddr = remote, local
		req.FlowDirection, resp.FlowDirection = flowlog.DirEgress, flowlog.DirIngress
		req.PktDstAWSService, resp.PktSrcAWSService = service, service
	}
	for _, x := range [2]*flowlog.Record{req, resp} {
		x.PktSrcAddr, x.PktDstAddr = x.SrcAddr, x.DstAddr
		if x.FlowDirection == flowlog.DirEgress {
			x.TrafficPath = trafficPath(pe, service, &g.rng)
		}
	}
	g.hasPend = true
}

func trafficPath(pe *peer, service string, r *rng) int32 {
	switch {
	case pe.inVPC:
		return 1
	case service == "S3" || service == "DYNAMODB":
		return 7 // gateway endpoint
	case r.next()%4 == 0:
		return 2
	}
	return 8
}

// window returns the start/end AWS would print for the window containing
// now on interface it: all records of one window share them, start is at
// most 2 s after the window opens and end at most 60 s after start.
func (g *Generator) window(it *Interface, now int64) (start, end int64) {
	iv := int64(g.cfg.Interval)
	first := g.startNs / 1e9
	if now < first+it.phase {
		// The first window is cut short so that nothing precedes Start.
		return first, first + it.phase
	}
	w := (now - first - it.phase) / iv
	ws := first + it.phase + w*iv
	h := mix(uint64(ws) ^ uint64(it.phase)<<40 ^ uint64(len(it.ID)))
	start = ws + int64(h%3)
	end = ws + iv - int64(h>>8%4)
	if iv == 600 {
		end = ws + iv - int64(h>>8%40)
	}
	return start, end
}

func jitter(r *rng, mean int64) int64 {
	v := mean/2 + int64(r.intn(int(mean)))
	if v > 1500 {
		v = 1500
	}
	if v < 28 {
		v = 28
	}
	return v
}

func hex17(x uint64) string {
	const digits = "0123456789abcdef"
	var b [17]byte
	x, y := mix(x), mix(x+1)
	for i := 0; i < 16; i++ {
		b[i] = digits[(x>>(4*i))&15]
	}
	b[16] = digits[y&15]
	return string(b[:])
}

// rng is SplitMix64: tiny, fast and good enough for synthetic data.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) intn(n int) int { return int((r.next() >> 32) * uint64(n) >> 32) }

// alias is Walker's alias table: O(1) draws from a fixed discrete
// distribution, which keeps Zipf sampling off the profile.
type alias struct {
	prob  []uint32
	alias []uint32
}

func newAlias(w []float64) alias {
	n := len(w)
	var sum float64
	for _, x := range w {
		sum += x
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	a := alias{prob: make([]uint32, n), alias: make([]uint32, n)}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s] = uint32(scaled[s] * (1<<32 - 1))
		a.alias[s] = uint32(l)
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		a.prob[i] = 1<<32 - 1
		a.alias[i] = uint32(i)
	}
	return a
}

func (a *alias) draw(r *rng) int {
	x := r.next()
	i := int((x >> 32) * uint64(len(a.prob)) >> 32)
	if uint32(x) < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}
