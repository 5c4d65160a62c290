package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// NIC is a network interface as the operating system reports it: the input
// of the inventory, from net.Interfaces for this host or from an agent for
// a remote one.
type NIC struct {
	Name     string
	Index    int    // OS interface index; orders device indexes
	MAC      string // "aa:bb:cc:dd:ee:ff"; "" when the link has none
	MTU      int
	Up       bool
	Loopback bool
	// Addrs are the interface's addresses with their prefix lengths, in
	// the order the kernel lists them (the primary address first).
	Addrs []netip.Prefix
}

// HostInfo describes one monitored host.
type HostInfo struct {
	// InstanceID overrides the derived id (flowwatch serve --instance-id).
	InstanceID string
	// MachineID is /etc/machine-id; the instance id derives from it.
	MachineID string
	Hostname  string
	// AZ overrides the inventory's default availability zone.
	AZ string
	// Remote marks a host registered by an agent rather than this one.
	Remote bool
	NICs   []NIC
	// IncludeLoopback keeps loopback interfaces, which are skipped by
	// default: traffic on lo never crosses a network.
	IncludeLoopback bool
}

// ID is the host's instance id.
func (h *HostInfo) ID() string {
	if h.InstanceID != "" {
		return h.InstanceID
	}
	seed := h.MachineID
	if strings.TrimSpace(seed) == "" {
		seed = "hostname:" + h.Hostname
	}
	return InstanceID(seed)
}

// LocalNICs lists this host's interfaces with their addresses.
func LocalNICs() ([]NIC, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("inventory: list interfaces: %w", err)
	}
	nics := make([]NIC, 0, len(ifs))
	for _, ifc := range ifs {
		n := NIC{Name: ifc.Name, Index: ifc.Index, MTU: ifc.MTU, MAC: ifc.HardwareAddr.String(),
			Up: ifc.Flags&net.FlagUp != 0, Loopback: ifc.Flags&net.FlagLoopback != 0}
		addrs, err := ifc.Addrs()
		if err != nil {
			// An interface that vanished between the two calls: skip it,
			// the next refresh sees the new state.
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			n.Addrs = append(n.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
		}
		nics = append(nics, n)
	}
	return nics, nil
}

// MachineID reads the host's machine id from the usual places; "" when
// there is none (the hostname then identifies the host).
func MachineID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s
			}
		}
	}
	return ""
}

// LocalHost describes this host: its machine id, hostname and interfaces.
// instanceID, when not "", overrides the derived instance id.
func LocalHost(instanceID string) (HostInfo, error) {
	if instanceID != "" && !ValidID(PrefixInstance, instanceID) {
		return HostInfo{}, fmt.Errorf("inventory: instance id %q is not i- followed by 8 or 17 hex digits", instanceID)
	}
	nics, err := LocalNICs()
	if err != nil {
		return HostInfo{}, err
	}
	hostname, _ := os.Hostname()
	h := HostInfo{InstanceID: instanceID, MachineID: MachineID(), Hostname: hostname, NICs: nics}
	if h.MachineID == "" && hostname == "" && instanceID == "" {
		return HostInfo{}, errors.New("inventory: no machine id and no hostname: give --instance-id")
	}
	return h, nil
}

// usable returns the addresses of n that identify it on a network: not
// link-local, not multicast, not unspecified.
func usable(n NIC) (v4, v6 []netip.Prefix) {
	for _, p := range n.Addrs {
		a := p.Addr()
		if !p.IsValid() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
			continue
		}
		if a.Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}
