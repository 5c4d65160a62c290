// Package inventory is the identity and inventory of the things flowwatch
// monitors, in EC2's terms: each monitored host is an instance, each of its
// Linux interfaces a network interface, each IPv4 prefix on them a subnet,
// and all of them one VPC per installation. Ids are derived, never stored:
// the same host, interface name and MAC give the same ids after a restart,
// on any server, so flow logs created on an eni- id keep meaning the same
// interface.
//
// The inventory knows nothing of the EC2 wire protocol (internal/ec2 puts
// it on the wire) nor of packets (capture asks it which interface is which).
package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Id prefixes, as EC2 spells them.
const (
	PrefixInstance   = "i-"
	PrefixInterface  = "eni-"
	PrefixSubnet     = "subnet-"
	PrefixVPC        = "vpc-"
	PrefixAttachment = "eni-attach-"
	PrefixReserv     = "r-"
)

// derive returns prefix + 17 lowercase hex digits of a hash over parts.
// The NUL separator keeps ("ab","c") and ("a","bc") apart.
func derive(prefix string, parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:17]
}

// InstanceID is the instance id of the host whose machine id is machineID.
func InstanceID(machineID string) string {
	return derive(PrefixInstance, "instance", strings.TrimSpace(machineID))
}

// InterfaceID is the network interface id of interface name with mac on
// instance: stable for that triple, so a replaced NIC (new MAC) or a
// renamed one is a new interface, as a new ENI would be in AWS.
func InterfaceID(instanceID, name, mac string) string {
	return derive(PrefixInterface, "eni", instanceID, name, strings.ToLower(mac))
}

// SubnetID is the subnet id of prefix (masked) in vpcID: every interface
// in the same prefix of the same VPC is in the same subnet, whichever host
// it is on.
func SubnetID(vpcID, prefix string) string {
	return derive(PrefixSubnet, "subnet", vpcID, prefix)
}

// ExporterInstanceID is the instance id standing for a flow exporter
// (a router or switch sending NetFlow, IPFIX or sFlow), by its address.
func ExporterInstanceID(exporter string) string {
	return derive(PrefixInstance, "collector-instance", exporter)
}

// VPCID is the VPC id of the installation identified by seed.
func VPCID(seed string) string {
	return derive(PrefixVPC, "vpc", strings.TrimSpace(seed))
}

// AttachmentID is the attachment id of an interface to its instance.
func AttachmentID(interfaceID string) string {
	return derive(PrefixAttachment, "attach", interfaceID)
}

// ReservationID is the reservation DescribeInstances puts an instance in.
func ReservationID(instanceID string) string {
	return derive(PrefixReserv, "reservation", instanceID)
}

// CIDRAssociationID is the association id of a VPC's CIDR block.
func CIDRAssociationID(vpcID, cidr string) string {
	return derive("vpc-cidr-assoc-", "cidr-assoc", vpcID, cidr)
}

// ValidID reports whether s is prefix followed by 8 or 17 lowercase hex
// digits, the two forms EC2 has issued.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || (len(rest) != 8 && len(rest) != 17) {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// compass abbreviates the direction words of region names as AWS's zone
// ids do (us-east-1 → use1, ap-southeast-2 → apse2).
var compass = map[string]string{
	"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
	"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

// AZID returns the zone id of an availability zone name: the region's
// short form, "-az" and the zone letter's position (us-east-1a →
// use1-az1). AWS maps letters to ids per account; flowwatch has one
// account per installation, so the identity mapping is as good as any.
// Names that are not REGION+letter are returned unchanged.
func AZID(az string) string {
	if len(az) < 2 {
		return az
	}
	letter := az[len(az)-1]
	parts := strings.Split(az[:len(az)-1], "-")
	if letter < 'a' || letter > 'z' || len(parts) < 3 {
		return az
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1 : len(parts)-1] {
		if c, ok := compass[p]; ok {
			b.WriteString(c)
		} else {
			b.WriteString(p)
		}
	}
	b.WriteString(parts[len(parts)-1])
	b.WriteString("-az")
	b.WriteString(strconv.Itoa(int(letter-'a') + 1))
	return b.String()
}
