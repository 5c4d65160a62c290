package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures an Inventory.
type Config struct {
	AccountID string // default 000000000000
	// Region is the one region the monitored hosts are in (default
	// us-east-1); the EC2 API shows them only to requests for it.
	Region string
	// AZ is the default availability zone of hosts (default Region+"a").
	AZ string
	// VPCID is the VPC of every host; "" derives one from Seed.
	VPCID string
	// Seed identifies the installation (the server's machine id) for a
	// derived VPC id.
	Seed string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Instance is a monitored host.
type Instance struct {
	ID, Hostname string
	VPCID        string
	SubnetID     string // of the primary interface; "" without interfaces
	PrivateIP    netip.Addr
	AZ, Region   string
	AZID         string    // zone id of AZ (use1-az1), the ${az-id} of records
	LaunchTime   time.Time // when the inventory first saw the host
	Remote       bool
	Interfaces   []string // interface ids by device index
}

// Interface is a monitored network interface.
type Interface struct {
	ID, Name, MAC string
	InstanceID    string
	SubnetID      string
	VPCID         string
	AZ, Region    string
	AZID          string // zone id of AZ (use1-az1), the ${az-id} of records
	DeviceIndex   int
	MTU           int
	Up            bool
	// PrivateIPs are the IPv4 addresses, the primary first.
	PrivateIPs []netip.Addr
	IPv6       []netip.Addr
	AttachTime time.Time
	Hostname   string
	// SubnetCIDR and SubnetIPv6CIDR are the masked prefixes of the primary
	// addresses: what the subnet is made of.
	SubnetCIDR, SubnetIPv6CIDR netip.Prefix
}

// PrimaryIP is the primary private IPv4 address (invalid when there is
// none): the address flow log records carry for the interface.
func (i *Interface) PrimaryIP() netip.Addr {
	if len(i.PrivateIPs) > 0 {
		return i.PrivateIPs[0]
	}
	return netip.Addr{}
}

// Subnet is a prefix that monitored interfaces are in.
type Subnet struct {
	ID, VPCID  string
	AZ, Region string
	AZID       string
	CIDR       netip.Prefix // IPv4; invalid for an IPv6-only subnet
	IPv6CIDR   netip.Prefix // invalid when none
}

// VPC is the installation's network.
type VPC struct {
	ID, Region string
	// CIDRs are the VPC's IPv4 blocks: each subnet widened to its /16 (AWS
	// VPC blocks are /16 to /28), merged, the block of this host's primary
	// interface first. CIDR is that first, primary block; invalid while
	// there is no IPv4 subnet.
	CIDR  netip.Prefix
	CIDRs []netip.Prefix
}

type host struct {
	inst   Instance
	ifaces []Interface
}

// Inventory holds the monitored hosts. It is safe for concurrent use.
type Inventory struct {
	cfg Config

	mu      sync.RWMutex
	hosts   map[string]*host
	version uint64
	subs    map[chan struct{}]struct{}
}

// New returns an empty inventory.
func New(cfg Config) (*Inventory, error) {
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AZ == "" {
		cfg.AZ = cfg.Region + "a"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.VPCID == "" {
		cfg.VPCID = VPCID(cfg.Seed)
	} else if !ValidID(PrefixVPC, cfg.VPCID) {
		return nil, fmt.Errorf("inventory: vpc id %q is not vpc- followed by 8 or 17 hex digits", cfg.VPCID)
	}
	return &Inventory{cfg: cfg, hosts: map[string]*host{}, subs: map[chan struct{}]struct{}{}}, nil
}

// Region is the region of every monitored thing.
func (inv *Inventory) Region() string { return inv.cfg.Region }

// AccountID is the owner of every monitored thing.
func (inv *Inventory) AccountID() string { return inv.cfg.AccountID }

// VPCID is the id of the installation's VPC.
func (inv *Inventory) VPCID() string { return inv.cfg.VPCID }

// SetHost adds h or replaces what the inventory knows of it (an agent
// calls it again whenever its interfaces change). Interfaces keep their
// attach time and the instance its launch time across calls.
func (inv *Inventory) SetHost(h HostInfo) (Instance, error) {
	id := h.ID()
	if !ValidID(PrefixInstance, id) {
		return Instance{}, fmt.Errorf("inventory: instance id %q is not i- followed by 8 or 17 hex digits", id)
	}
	az := h.AZ
	if az == "" {
		az = inv.cfg.AZ
	}
	now := inv.cfg.Now().UTC()

	inv.mu.Lock()
	defer inv.mu.Unlock()
	old := inv.hosts[id]
	nh := buildHost(id, h, az, inv.cfg.Region, inv.cfg.VPCID, now, old)
	if old != nil && sameHost(old, nh) {
		return nh.inst, nil
	}
	inv.hosts[id] = nh
	inv.changedLocked()
	return nh.inst, nil
}

// buildHost turns a HostInfo into the instance and its interfaces. It is
// a pure function of its inputs, so ids and order are deterministic.
func buildHost(id string, h HostInfo, az, region, vpcID string, now time.Time, old *host) *host {
	launch := now
	attached := map[string]time.Time{}
	if old != nil {
		launch = old.inst.LaunchTime
		for _, i := range old.ifaces {
			attached[i.ID] = i.AttachTime
		}
	}
	nics := slices.Clone(h.NICs)
	// Device index follows the OS index, so eth0 (usually the first
	// non-loopback interface) is device 0 as on EC2.
	sort.SliceStable(nics, func(a, b int) bool {
		if nics[a].Index != nics[b].Index {
			return nics[a].Index < nics[b].Index
		}
		return nics[a].Name < nics[b].Name
	})
	nh := &host{inst: Instance{ID: id, Hostname: h.Hostname, VPCID: vpcID, AZ: az, AZID: AZID(az), Region: region, LaunchTime: launch, Remote: h.Remote}}
	for _, n := range nics {
		if n.Loopback && !h.IncludeLoopback {
			continue
		}
		v4, v6 := usable(n)
		if len(v4) == 0 && len(v6) == 0 {
			// Nothing to derive a subnet from (a link that is down or only
			// has link-local addresses).
			continue
		}
		var subnetPrefix netip.Prefix
		if len(v4) > 0 {
			subnetPrefix = v4[0].Masked()
		} else {
			subnetPrefix = v6[0].Masked()
		}
		ifc := Interface{
			ID: InterfaceID(id, n.Name, n.MAC), Name: n.Name, MAC: strings.ToLower(n.MAC),
			InstanceID: id, SubnetID: SubnetID(vpcID, subnetPrefix.String()), VPCID: vpcID,
			AZ: az, AZID: AZID(az), Region: region, DeviceIndex: len(nh.ifaces), MTU: n.MTU, Up: n.Up, Hostname: h.Hostname,
		}
		if len(v4) > 0 {
			ifc.SubnetCIDR = v4[0].Masked()
		}
		if len(v6) > 0 {
			ifc.SubnetIPv6CIDR = v6[0].Masked()
		}
		for _, p := range v4 {
			ifc.PrivateIPs = append(ifc.PrivateIPs, p.Addr())
		}
		for _, p := range v6 {
			ifc.IPv6 = append(ifc.IPv6, p.Addr())
		}
		if t, ok := attached[ifc.ID]; ok {
			ifc.AttachTime = t
		} else {
			ifc.AttachTime = now
		}
		nh.ifaces = append(nh.ifaces, ifc)
		nh.inst.Interfaces = append(nh.inst.Interfaces, ifc.ID)
	}
	if len(nh.ifaces) > 0 {
		nh.inst.SubnetID = nh.ifaces[0].SubnetID
		nh.inst.PrivateIP = nh.ifaces[0].PrimaryIP()
	}
	return nh
}

func sameHost(a, b *host) bool {
	if a.inst.Hostname != b.inst.Hostname || a.inst.AZ != b.inst.AZ || a.inst.Remote != b.inst.Remote || len(a.ifaces) != len(b.ifaces) {
		return false
	}
	for i := range a.ifaces {
		x, y := a.ifaces[i], b.ifaces[i]
		if x.ID != y.ID || x.SubnetID != y.SubnetID || x.DeviceIndex != y.DeviceIndex || x.MTU != y.MTU || x.Up != y.Up ||
			!slices.Equal(x.PrivateIPs, y.PrivateIPs) || !slices.Equal(x.IPv6, y.IPv6) {
			return false
		}
	}
	return true
}

// RemoveHost forgets a host; it reports whether the host was known.
func (inv *Inventory) RemoveHost(instanceID string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.hosts[instanceID]; !ok {
		return false
	}
	delete(inv.hosts, instanceID)
	inv.changedLocked()
	return true
}

func (inv *Inventory) changedLocked() {
	inv.version++
	for ch := range inv.subs {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
}

// Version counts changes; it grows whenever hosts or interfaces change.
func (inv *Inventory) Version() uint64 {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.version
}

// Subscribe returns a channel that receives a value after changes (several
// changes may be folded into one value) and a function that ends the
// subscription.
func (inv *Inventory) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	inv.mu.Lock()
	inv.subs[ch] = struct{}{}
	inv.mu.Unlock()
	return ch, func() {
		inv.mu.Lock()
		delete(inv.subs, ch)
		inv.mu.Unlock()
	}
}

// Instances returns every instance, sorted by id.
func (inv *Inventory) Instances() []Instance {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make([]Instance, 0, len(inv.hosts))
	for _, h := range inv.hosts {
		in := h.inst
		in.Interfaces = slices.Clone(in.Interfaces)
		out = append(out, in)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Interfaces returns every interface, sorted by id.
func (inv *Inventory) Interfaces() []Interface {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []Interface
	for _, h := range inv.hosts {
		for _, i := range h.ifaces {
			out = append(out, cloneIface(i))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

func cloneIface(i Interface) Interface {
	i.PrivateIPs = slices.Clone(i.PrivateIPs)
	i.IPv6 = slices.Clone(i.IPv6)
	return i
}

// InstanceInterfaces returns the interfaces of one instance by device index.
func (inv *Inventory) InstanceInterfaces(instanceID string) []Interface {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	h := inv.hosts[instanceID]
	if h == nil {
		return nil
	}
	out := make([]Interface, len(h.ifaces))
	for k, i := range h.ifaces {
		out[k] = cloneIface(i)
	}
	return out
}

// Subnets returns every subnet, sorted by id. A subnet's AZ is that of the
// first instance (by id) with an interface in it.
func (inv *Inventory) Subnets() []Subnet {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.subnetsLocked()
}

func (inv *Inventory) subnetsLocked() []Subnet {
	ids := make([]string, 0, len(inv.hosts))
	for id := range inv.hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	byID := map[string]*Subnet{}
	for _, hid := range ids {
		for _, i := range inv.hosts[hid].ifaces {
			s := byID[i.SubnetID]
			if s == nil {
				s = &Subnet{ID: i.SubnetID, VPCID: i.VPCID, AZ: i.AZ, AZID: i.AZID, Region: i.Region}
				byID[i.SubnetID] = s
			}
			// The subnet id derives from the first IPv4 prefix (or the
			// first IPv6 one when there is no IPv4), so every interface
			// in it agrees on that prefix.
			if !s.CIDR.IsValid() {
				s.CIDR = i.SubnetCIDR
			}
			if !s.IPv6CIDR.IsValid() {
				s.IPv6CIDR = i.SubnetIPv6CIDR
			}
		}
	}
	out := make([]Subnet, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// VPCs returns the installation's VPC.
func (inv *Inventory) VPCs() []VPC {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	v := VPC{ID: inv.cfg.VPCID, Region: inv.cfg.Region}
	// Local interfaces by device index first, so the primary block is the
	// one this host's eth0 is in; then every subnet by address.
	var prefixes []netip.Prefix
	for _, h := range inv.hosts {
		if !h.inst.Remote {
			for _, i := range h.ifaces {
				if i.SubnetCIDR.IsValid() {
					prefixes = append(prefixes, i.SubnetCIDR)
				}
			}
		}
	}
	var rest []netip.Prefix
	for _, s := range inv.subnetsLocked() {
		if s.CIDR.IsValid() {
			rest = append(rest, s.CIDR)
		}
	}
	sort.Slice(rest, func(a, b int) bool {
		if c := rest[a].Addr().Compare(rest[b].Addr()); c != 0 {
			return c < 0
		}
		return rest[a].Bits() < rest[b].Bits()
	})
	for _, p := range append(prefixes, rest...) {
		v.CIDRs = addBlock(v.CIDRs, p)
	}
	if len(v.CIDRs) > 0 {
		v.CIDR = v.CIDRs[0]
	}
	return []VPC{v}
}

// addBlock adds the /16 (or wider) block of prefix p to blocks unless a
// block already holds it; blocks it holds are dropped, order otherwise kept.
func addBlock(blocks []netip.Prefix, p netip.Prefix) []netip.Prefix {
	b := p
	if p.Bits() > 16 {
		b, _ = p.Addr().Prefix(16)
	}
	for _, x := range blocks {
		if x.Bits() <= b.Bits() && x.Contains(b.Addr()) {
			return blocks
		}
	}
	out := blocks[:0:0]
	placed := false
	for _, x := range blocks {
		if b.Bits() <= x.Bits() && b.Contains(x.Addr()) {
			if !placed {
				out = append(out, b)
				placed = true
			}
			continue
		}
		out = append(out, x)
	}
	if !placed {
		out = append(out, b)
	}
	return out
}

// LocalInstance returns the instance of the host flowwatch serve runs on
// (the one host not registered by an agent), for capture to name its
// interfaces.
func (inv *Inventory) LocalInstance() (Instance, bool) {
	for _, in := range inv.Instances() {
		if !in.Remote {
			return in, true
		}
	}
	return Instance{}, false
}

// Instance returns one instance.
func (inv *Inventory) Instance(id string) (Instance, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	h := inv.hosts[id]
	if h == nil {
		return Instance{}, false
	}
	in := h.inst
	in.Interfaces = slices.Clone(in.Interfaces)
	return in, true
}

// Interface returns one interface.
func (inv *Inventory) Interface(id string) (Interface, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	for _, h := range inv.hosts {
		for _, i := range h.ifaces {
			if i.ID == id {
				return cloneIface(i), true
			}
		}
	}
	return Interface{}, false
}

// InterfaceByName returns the interface called name on an instance, which
// is how capture maps a packet's interface to its eni- id.
func (inv *Inventory) InterfaceByName(instanceID, name string) (Interface, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if h := inv.hosts[instanceID]; h != nil {
		for _, i := range h.ifaces {
			if i.Name == name {
				return cloneIface(i), true
			}
		}
	}
	return Interface{}, false
}

// Exists reports whether resourceID names a VPC, subnet, interface or
// instance in the inventory.
func (inv *Inventory) Exists(resourceID string) bool {
	switch {
	case strings.HasPrefix(resourceID, PrefixVPC):
		return resourceID == inv.cfg.VPCID
	case strings.HasPrefix(resourceID, PrefixSubnet):
		return len(inv.InterfacesUnder(resourceID)) > 0
	case strings.HasPrefix(resourceID, PrefixInstance):
		_, ok := inv.Instance(resourceID)
		return ok
	case strings.HasPrefix(resourceID, PrefixInterface):
		_, ok := inv.Interface(resourceID)
		return ok
	}
	return false
}

// InterfacesUnder returns the interfaces a flow log on resourceID covers,
// sorted by id: every interface of the VPC, the interfaces in a subnet,
// an interface itself, or an instance's interfaces. Unknown ids give none.
func (inv *Inventory) InterfacesUnder(resourceID string) []Interface {
	var keep func(*Interface) bool
	switch {
	case strings.HasPrefix(resourceID, PrefixVPC):
		keep = func(i *Interface) bool { return i.VPCID == resourceID }
	case strings.HasPrefix(resourceID, PrefixSubnet):
		keep = func(i *Interface) bool { return i.SubnetID == resourceID }
	case strings.HasPrefix(resourceID, PrefixInterface):
		keep = func(i *Interface) bool { return i.ID == resourceID }
	case strings.HasPrefix(resourceID, PrefixInstance):
		keep = func(i *Interface) bool { return i.InstanceID == resourceID }
	default:
		return nil
	}
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []Interface
	for _, h := range inv.hosts {
		for k := range h.ifaces {
			if keep(&h.ifaces[k]) {
				out = append(out, cloneIface(h.ifaces[k]))
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Refresh keeps a host up to date: it calls discover every interval until
// ctx ends and stores what it finds, so interfaces that come and go
// (containers, VPNs) appear and disappear. Errors are logged and the last
// known state kept.
func (inv *Inventory) Refresh(ctx context.Context, every time.Duration, log *slog.Logger, discover func() (HostInfo, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h, err := discover()
		if err == nil {
			_, err = inv.SetHost(h)
		}
		if err != nil && log != nil {
			log.Warn("refreshing the interface inventory failed", "err", err)
		}
	}
}
