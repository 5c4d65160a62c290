package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"

	"github.com/flowwatch/flowwatch/internal/flowlog"
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

// hex17 is 17 lowercase hex digits of SHA-256 over the parts, the length of
// current AWS resource ids.
func hex17(parts ...string) string {
	s := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(s[:9])[:17]
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
		id.InstanceID = "i-" + hex17("instance", machineID)
	}
	if id.VPCID == "" {
		id.VPCID = "vpc-" + hex17("vpc", machineID)
	}
	return id
}

// InterfaceID is stable for (instance, interface name, MAC), as design.md
// requires.
func InterfaceID(instanceID, name string, mac [6]byte) string {
	return "eni-" + hex17("eni", instanceID, name, string(mac[:]))
}

// SubnetID is derived from the interface's IPv4 prefix.
func SubnetID(vpcID string, p netip.Prefix) string {
	return "subnet-" + hex17("subnet", vpcID, p.Masked().String())
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
