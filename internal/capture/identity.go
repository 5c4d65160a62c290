package capture

import (
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Identity is what a host's records say about where they come from.
type Identity struct {
	AccountID  string // default "000000000000"
	Region     string // default "us-east-1"
	AZID       string // default "use1-az1"
	VPCID      string // default derived from the machine id
	InstanceID string // default derived from the machine id
}

// MachineID reads /etc/machine-id (falling back to the hostname) so ids
// stay the same across restarts of the same host.
func MachineID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s
			}
		}
	}
	h, _ := os.Hostname()
	return "host:" + h
}

// Fill applies the defaults, deriving instance and VPC ids from machineID.
func (id Identity) Fill(machineID string) Identity {
	if id.AccountID == "" {
		id.AccountID = "000000000000"
	}
	if id.Region == "" {
		id.Region = "us-east-1"
	}
	if id.AZID == "" {
		id.AZID = "use1-az1"
	}
	if id.InstanceID == "" {
		id.InstanceID = inventory.InstanceID(machineID)
	}
	if id.VPCID == "" {
		id.VPCID = inventory.VPCID(machineID)
	}
	return id
}

// InterfaceID is stable for (instance, interface name, MAC), as design.md
// requires. The inventory derives it: records must carry the id that
// DescribeNetworkInterfaces shows and flow logs are created on.
func InterfaceID(instanceID, name string, mac [6]byte) string {
	text := ""
	if mac != ([6]byte{}) {
		text = net.HardwareAddr(mac[:]).String()
	}
	return inventory.InterfaceID(instanceID, name, text)
}

// SubnetID is derived from the interface's IPv4 prefix, by the inventory.
func SubnetID(vpcID string, p netip.Prefix) string {
	return inventory.SubnetID(vpcID, p.Masked().String())
}

// NewInterface builds an Interface with its identity fields filled in.
func NewInterface(id Identity, name string, mac [6]byte, hasMAC bool, prefixes []netip.Prefix) *Interface {
	it := &Interface{Name: name, MAC: mac, HasMAC: hasMAC, Prefixes: prefixes}
	m := flowlog.Blank()
	m.AccountID, m.InterfaceID = id.AccountID, InterfaceID(id.InstanceID, name, mac)
	m.VPCID, m.InstanceID, m.Region, m.AZID = id.VPCID, id.InstanceID, id.Region, id.AZID
	for _, p := range prefixes {
		if p.Addr().Is4() && !p.Addr().IsLoopback() {
			it.Primary4 = p.Addr()
			m.SubnetID = SubnetID(id.VPCID, p)
			break
		}
	}
	it.Meta = m
	return it
}
