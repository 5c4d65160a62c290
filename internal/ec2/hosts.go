package ec2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Agents (`flowwatch agent`) put their hosts into the inventory with two
// flowwatch actions on the EC2 endpoint, signed like every other request
// (and authorized for IAM users as ec2:FlowwatchRegisterHost):
//
//	Action=FlowwatchRegisterHost&InstanceId=i-…&Hostname=…&AvailabilityZone=…
//	  &NetworkInterface.N.Name=eth0&NetworkInterface.N.MacAddress=…
//	  &NetworkInterface.N.Index=2&NetworkInterface.N.Mtu=1500&NetworkInterface.N.Up=true
//	  &NetworkInterface.N.Address.M=10.0.1.5/24
//	Action=FlowwatchDeregisterHost&InstanceId=i-…
//
// Registering again replaces the host's interfaces (agents re-register
// when theirs change and periodically). The "Flowwatch" prefix keeps them
// clear of any action AWS may add. Registered hosts are persisted, so
// their instances and interfaces (and the flow logs covering them) are
// listed again right after a server restart.

// RegisterHostForm is the request body an agent sends to register h, ids
// included: the agent derives its instance id as the server would.
func RegisterHostForm(h inventory.HostInfo) url.Values {
	v := url.Values{"Action": {"FlowwatchRegisterHost"}, "Version": {APIVersion}, "InstanceId": {h.ID()}}
	if h.Hostname != "" {
		v.Set("Hostname", h.Hostname)
	}
	if h.AZ != "" {
		v.Set("AvailabilityZone", h.AZ)
	}
	n := 0
	for _, nic := range h.NICs {
		if nic.Loopback && !h.IncludeLoopback {
			continue
		}
		n++
		b := fmt.Sprintf("NetworkInterface.%d.", n)
		v.Set(b+"Name", nic.Name)
		v.Set(b+"MacAddress", nic.MAC)
		v.Set(b+"Index", strconv.Itoa(nic.Index))
		v.Set(b+"Mtu", strconv.Itoa(nic.MTU))
		v.Set(b+"Up", strconv.FormatBool(nic.Up))
		for m, a := range nic.Addrs {
			v.Set(fmt.Sprintf("%sAddress.%d", b, m+1), a.String())
		}
	}
	return v
}

// maxHostInterfaces bounds one registration.
const maxHostInterfaces = 1024

func parseHost(p params) (inventory.HostInfo, error) {
	id, ok := p.str("InstanceId")
	if !ok || id == "" {
		return inventory.HostInfo{}, missingParameter("InstanceId")
	}
	if !inventory.ValidID(inventory.PrefixInstance, id) {
		return inventory.HostInfo{}, invalidValue("Invalid id: \"%s\" (expecting \"i-...\")", id)
	}
	h := inventory.HostInfo{InstanceID: id, Hostname: p.get("Hostname"), AZ: p.get("AvailabilityZone"), Remote: true}
	idx := p.indexes("NetworkInterface")
	if len(idx) > maxHostInterfaces {
		return inventory.HostInfo{}, invalidParameter("A host may register at most %d network interfaces", maxHostInterfaces)
	}
	names := map[string]bool{}
	for _, n := range idx {
		b := fmt.Sprintf("NetworkInterface.%d.", n)
		nic := inventory.NIC{Name: p.get(b + "Name"), MAC: p.get(b + "MacAddress")}
		if nic.Name == "" || len(nic.Name) > 64 {
			return inventory.HostInfo{}, invalidValue("NetworkInterface.%d.Name must be 1 to 64 characters", n)
		}
		if names[nic.Name] {
			return inventory.HostInfo{}, invalidValue("Duplicate network interface name '%s'", nic.Name)
		}
		names[nic.Name] = true
		var err error
		if nic.Index, _, err = p.integer(b + "Index"); err != nil {
			return inventory.HostInfo{}, err
		}
		if nic.MTU, _, err = p.integer(b + "Mtu"); err != nil {
			return inventory.HostInfo{}, err
		}
		if nic.Up, err = p.boolean(b + "Up"); err != nil {
			return inventory.HostInfo{}, err
		}
		for _, a := range p.list(b + "Address") {
			pf, err := netip.ParsePrefix(a)
			if err != nil {
				return inventory.HostInfo{}, invalidValue("Invalid value '%s' for %sAddress: expecting an address with its prefix length (10.0.1.5/24)", a, b)
			}
			nic.Addrs = append(nic.Addrs, pf)
		}
		h.NICs = append(h.NICs, nic)
	}
	return h, nil
}

// hostStore persists the registered hosts (DataDir/ec2/hosts.json).
type hostStore struct {
	path  string
	mu    sync.Mutex
	hosts map[string]inventory.HostInfo
}

const hostsName = "hosts.json"

func openHosts(dir string) (*hostStore, error) {
	hs := &hostStore{hosts: map[string]inventory.HostInfo{}}
	if dir == "" {
		return hs, nil
	}
	hs.path = filepath.Join(dir, hostsName)
	b, err := os.ReadFile(hs.path)
	if errors.Is(err, fs.ErrNotExist) {
		return hs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ec2: registered hosts: %w", err)
	}
	var list []inventory.HostInfo
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("ec2: registered hosts in %s are corrupt: %w", hs.path, err)
	}
	for _, h := range list {
		hs.hosts[h.InstanceID] = h
	}
	return hs, nil
}

// commitLocked writes hosts and makes them the store's state.
func (hs *hostStore) commitLocked(hosts map[string]inventory.HostInfo) error {
	if hs.path != "" {
		list := make([]inventory.HostInfo, 0, len(hosts))
		for _, h := range hosts {
			list = append(list, h)
		}
		sort.Slice(list, func(a, b int) bool { return list[a].InstanceID < list[b].InstanceID })
		b, err := json.MarshalIndent(list, "", " ")
		if err != nil {
			return fmt.Errorf("ec2: encode hosts: %w", err)
		}
		if err := writeFileAtomic(hs.path, b); err != nil {
			return fmt.Errorf("ec2: persist hosts: %w", err)
		}
	}
	hs.hosts = hosts
	return nil
}

type registeredENIXML struct {
	NetworkInterfaceID string `xml:"networkInterfaceId"`
	Name               string `xml:"name"`
	SubnetID           string `xml:"subnetId"`
	DeviceIndex        int    `xml:"deviceIndex"`
}

type registerHostResponse struct {
	respMeta
	InstanceID          string                     `xml:"instanceId"`
	VpcID               string                     `xml:"vpcId"`
	NetworkInterfaceSet itemList[registeredENIXML] `xml:"networkInterfaceSet"`
}

func (s *Service) registerHost(rq *request) (response, error) {
	h, err := parseHost(rq.p)
	if err != nil {
		return nil, err
	}
	if !s.inRegion(rq) {
		return nil, invalidParameter("Hosts are registered in %s, the region of this flowwatch server, not in %s", s.inv.Region(), rq.info.Region)
	}
	if in, ok := s.inv.Instance(h.InstanceID); ok && !in.Remote {
		return nil, invalidParameter("Instance %s is the server's own host; an agent must use another instance id", h.InstanceID)
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	hs := s.hosts
	hs.mu.Lock()
	defer hs.mu.Unlock()
	next := make(map[string]inventory.HostInfo, len(hs.hosts)+1)
	for k, v := range hs.hosts {
		next[k] = v
	}
	next[h.InstanceID] = h
	if err := hs.commitLocked(next); err != nil {
		return nil, err
	}
	inst, err := s.inv.SetHost(h)
	if err != nil {
		return nil, err
	}
	out := &registerHostResponse{InstanceID: inst.ID, VpcID: inst.VPCID, NetworkInterfaceSet: itemList[registeredENIXML]{Items: []registeredENIXML{}}}
	for _, i := range s.inv.InstanceInterfaces(inst.ID) {
		out.NetworkInterfaceSet.Items = append(out.NetworkInterfaceSet.Items, registeredENIXML{i.ID, i.Name, i.SubnetID, i.DeviceIndex})
	}
	return out, nil
}

func (s *Service) deregisterHost(rq *request) (response, error) {
	id, ok := rq.p.str("InstanceId")
	if !ok || id == "" {
		return nil, missingParameter("InstanceId")
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	hs := s.hosts
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, ok := hs.hosts[id]; !ok || !s.inRegion(rq) {
		return nil, notFound("Instance", "instance", id)
	}
	next := make(map[string]inventory.HostInfo, len(hs.hosts))
	for k, v := range hs.hosts {
		if k != id {
			next[k] = v
		}
	}
	if err := hs.commitLocked(next); err != nil {
		return nil, err
	}
	s.inv.RemoveHost(id)
	return &returnResponse{Return: true}, nil
}

// restoreHosts puts the persisted hosts back into the inventory.
func (s *Service) restoreHosts() error {
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	for _, h := range s.hosts.hosts {
		if _, err := s.inv.SetHost(h); err != nil {
			return fmt.Errorf("ec2: registered host %s: %w", h.InstanceID, err)
		}
	}
	return nil
}
