package ec2

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowwatch/flowwatch/internal/inventory"
)

// The Describe operations of the inventory. Shapes and element names are
// botocore's (ec2/2016-11-15): camelCase locationNames, lists in <item>.

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagsXML(ts []Tag) itemList[tagXML] {
	out := itemList[tagXML]{Items: []tagXML{}}
	for _, t := range ts {
		out.Items = append(out.Items, tagXML(t))
	}
	return out
}

type stateXML struct {
	State string `xml:"state"`
}

type cidrAssocXML struct {
	AssociationID  string   `xml:"associationId"`
	CidrBlock      string   `xml:"cidrBlock"`
	CidrBlockState stateXML `xml:"cidrBlockState"`
}

type vpcXML struct {
	VpcID                   string                 `xml:"vpcId"`
	OwnerID                 string                 `xml:"ownerId"`
	InstanceTenancy         string                 `xml:"instanceTenancy"`
	State                   string                 `xml:"state"`
	CidrBlock               string                 `xml:"cidrBlock,omitempty"`
	CidrBlockAssociationSet itemList[cidrAssocXML] `xml:"cidrBlockAssociationSet"`
	DhcpOptionsID           string                 `xml:"dhcpOptionsId"`
	IsDefault               bool                   `xml:"isDefault"`
	TagSet                  itemList[tagXML]       `xml:"tagSet"`
}

type describeVpcsResponse struct {
	respMeta
	VpcSet    itemList[vpcXML] `xml:"vpcSet"`
	NextToken string           `xml:"nextToken,omitempty"`
}

// vpcView is a VPC with what filters look at.
type vpcView struct {
	inventory.VPC
	owner string
	tags  []Tag
}

var vpcFilters = filterSet[vpcView]{
	"vpc-id": func(v *vpcView) []string { return []string{v.ID} },
	"cidr":   func(v *vpcView) []string { return prefixStr(v.CIDR) },
	"cidr-block-association.cidr-block": func(v *vpcView) []string {
		var out []string
		for _, p := range v.CIDRs {
			out = append(out, p.String())
		}
		return out
	},
	"cidr-block-association.state": func(v *vpcView) []string { return []string{"associated"} },
	"state":                        func(v *vpcView) []string { return []string{"available"} },
	"owner-id":                     func(v *vpcView) []string { return []string{v.owner} },
	"is-default":                   func(v *vpcView) []string { return []string{"false"} },
	"dhcp-options-id":              func(v *vpcView) []string { return []string{"default"} },
}

func prefixStr(p netip.Prefix) []string {
	if !p.IsValid() {
		return nil
	}
	return []string{p.String()}
}

// viewTags returns the tags a view carries (derived and the user's).
func viewTags[T interface{ tagList() []Tag }](x *T) []Tag { return (*x).tagList() }

func (v vpcView) tagList() []Tag      { return v.tags }
func (v subnetView) tagList() []Tag   { return v.tags }
func (v eniView) tagList() []Tag      { return v.tags }
func (v instanceView) tagList() []Tag { return v.tags }

func (s *Service) describeVpcs(rq *request) (response, error) {
	pg, next, err := describePage(s, rq, describeSpec[vpcView]{
		idParam: "VpcId", filters: vpcFilters, id: func(v *vpcView) string { return v.ID },
		kind: "Vpc", noun: "vpc", token: "ec2-vpcs",
		views: func() (all []vpcView) {
			for _, v := range s.inv.VPCs() {
				all = append(all, vpcView{v, s.account, s.resourceTags(v.ID)})
			}
			return all
		},
	})
	if err != nil {
		return nil, err
	}
	out := &describeVpcsResponse{VpcSet: itemList[vpcXML]{Items: []vpcXML{}}, NextToken: next}
	for _, v := range pg {
		x := vpcXML{VpcID: v.ID, OwnerID: s.account, InstanceTenancy: "default", State: "available",
			DhcpOptionsID: "default", TagSet: tagsXML(v.tags), CidrBlockAssociationSet: itemList[cidrAssocXML]{Items: []cidrAssocXML{}}}
		if v.CIDR.IsValid() {
			x.CidrBlock = v.CIDR.String()
		}
		for _, p := range v.CIDRs {
			x.CidrBlockAssociationSet.Items = append(x.CidrBlockAssociationSet.Items, cidrAssocXML{
				AssociationID: inventory.CIDRAssociationID(v.ID, p.String()), CidrBlock: p.String(), CidrBlockState: stateXML{"associated"}})
		}
		out.VpcSet.Items = append(out.VpcSet.Items, x)
	}
	return out, nil
}

// selectIDs keeps the items whose id is in ids (all of them when ids is
// empty); an id that names nothing fails the whole call, as EC2's
// Describe operations do.
// describeSpec is what one Describe operation adds to the pipeline that
// all of them share (describePage).
type describeSpec[T any] struct {
	idParam    string // the ids parameter, e.g. "VpcId"
	filters    filterSet[T]
	id         func(*T) string
	kind, noun string // for Invalid<Kind>ID.NotFound
	token      string // pagination token kind
	// idsWithMax, when set, is the error for ids given with MaxResults.
	idsWithMax string
	views      func() []T // the region's resources
}

// describePage checks filters, MaxResults and DryRun (in AWS's order, before
// looking anything up), then selects the requested ids, applies the filters
// and cuts one page.
func describePage[T interface{ tagList() []Tag }](s *Service, rq *request, d describeSpec[T]) ([]T, string, error) {
	s.freshInventory()
	ids := rq.p.list(d.idParam)
	m, err := compile(rq.p.filters(), d.filters, viewTags[T])
	if err != nil {
		return nil, "", err
	}
	max, err := maxResults(rq.p, false)
	if err != nil {
		return nil, "", err
	}
	if d.idsWithMax != "" && max > 0 && len(ids) > 0 {
		return nil, "", ec2Error(http.StatusBadRequest, "InvalidParameterCombination", "%s", d.idsWithMax)
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, "", err
	}
	var all []T
	if s.inRegion(rq) {
		all = d.views()
	}
	all, err = selectIDs(all, d.id, ids, d.kind, d.noun)
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(v T) bool { return !m.match(&v) })
	return page(all, d.id, d.token, rq.p.get("NextToken"), max)
}

func selectIDs[T any](items []T, id func(*T) string, ids []string, kind, noun string) ([]T, error) {
	if len(ids) == 0 {
		return items, nil
	}
	want := map[string]bool{}
	for _, x := range ids {
		want[x] = true
	}
	var out []T
	for k := range items {
		if want[id(&items[k])] {
			out = append(out, items[k])
			delete(want, id(&items[k]))
		}
	}
	if len(want) > 0 {
		var missing []string
		for _, x := range ids {
			if want[x] {
				missing = append(missing, x)
				delete(want, x)
			}
		}
		return nil, notFound(kind, noun, missing...)
	}
	return out, nil
}

type ipv6AssocXML struct {
	AssociationID      string   `xml:"associationId"`
	Ipv6CidrBlock      string   `xml:"ipv6CidrBlock"`
	Ipv6CidrBlockState stateXML `xml:"ipv6CidrBlockState"`
}

type subnetXML struct {
	SubnetID                    string                 `xml:"subnetId"`
	SubnetArn                   string                 `xml:"subnetArn"`
	State                       string                 `xml:"state"`
	VpcID                       string                 `xml:"vpcId"`
	OwnerID                     string                 `xml:"ownerId"`
	CidrBlock                   string                 `xml:"cidrBlock,omitempty"`
	Ipv6CidrBlockAssociationSet itemList[ipv6AssocXML] `xml:"ipv6CidrBlockAssociationSet"`
	AvailableIPAddressCount     int                    `xml:"availableIpAddressCount"`
	AvailabilityZone            string                 `xml:"availabilityZone"`
	AvailabilityZoneID          string                 `xml:"availabilityZoneId"`
	DefaultForAz                bool                   `xml:"defaultForAz"`
	MapPublicIPOnLaunch         bool                   `xml:"mapPublicIpOnLaunch"`
	AssignIpv6AddressOnCreation bool                   `xml:"assignIpv6AddressOnCreation"`
	Ipv6Native                  bool                   `xml:"ipv6Native"`
	TagSet                      itemList[tagXML]       `xml:"tagSet"`
}

type describeSubnetsResponse struct {
	respMeta
	SubnetSet itemList[subnetXML] `xml:"subnetSet"`
	NextToken string              `xml:"nextToken,omitempty"`
}

type subnetView struct {
	inventory.Subnet
	owner string
	tags  []Tag
}

func (s *subnetView) arn() string {
	return "arn:aws:ec2:" + s.Region + ":" + s.owner + ":subnet/" + s.ID
}

var subnetFilters = filterSet[subnetView]{
	"subnet-id":            func(s *subnetView) []string { return []string{s.ID} },
	"vpc-id":               func(s *subnetView) []string { return []string{s.VPCID} },
	"cidr-block":           func(s *subnetView) []string { return prefixStr(s.CIDR) },
	"cidr":                 func(s *subnetView) []string { return prefixStr(s.CIDR) },
	"cidrBlock":            func(s *subnetView) []string { return prefixStr(s.CIDR) },
	"availability-zone":    func(s *subnetView) []string { return []string{s.AZ} },
	"availabilityZone":     func(s *subnetView) []string { return []string{s.AZ} },
	"availability-zone-id": func(s *subnetView) []string { return []string{s.AZID} },
	"state":                func(s *subnetView) []string { return []string{"available"} },
	"owner-id":             func(s *subnetView) []string { return []string{s.owner} },
	"default-for-az":       func(s *subnetView) []string { return []string{"false"} },
	"defaultForAz":         func(s *subnetView) []string { return []string{"false"} },
	"subnet-arn":           func(s *subnetView) []string { return []string{s.arn()} },
	"ipv6-native":          func(s *subnetView) []string { return []string{strconv.FormatBool(!s.CIDR.IsValid())} },
	"ipv6-cidr-block-association.ipv6-cidr-block": func(s *subnetView) []string { return prefixStr(s.IPv6CIDR) },
}

// usableAddresses is what AWS reports as available in a prefix: all
// addresses less the five it reserves (network, router, DNS, future,
// broadcast), and never below zero.
func usableAddresses(p netip.Prefix) int {
	if !p.IsValid() || !p.Addr().Is4() {
		return 0
	}
	n := 1 << (32 - p.Bits())
	if n <= 5 {
		return 0
	}
	return n - 5
}

func (s *Service) describeSubnets(rq *request) (response, error) {
	pg, next, err := describePage(s, rq, describeSpec[subnetView]{
		idParam: "SubnetId", filters: subnetFilters, id: func(v *subnetView) string { return v.ID },
		kind: "Subnet", noun: "subnet", token: "ec2-subnets",
		views: func() (all []subnetView) {
			for _, x := range s.inv.Subnets() {
				all = append(all, subnetView{x, s.account, s.resourceTags(x.ID)})
			}
			return all
		},
	})
	if err != nil {
		return nil, err
	}
	out := &describeSubnetsResponse{SubnetSet: itemList[subnetXML]{Items: []subnetXML{}}, NextToken: next}
	for _, v := range pg {
		x := subnetXML{SubnetID: v.ID, SubnetArn: v.arn(), State: "available", VpcID: v.VPCID, OwnerID: s.account,
			AvailableIPAddressCount: usableAddresses(v.CIDR), AvailabilityZone: v.AZ, AvailabilityZoneID: v.AZID, Ipv6Native: !v.CIDR.IsValid(),
			TagSet: tagsXML(v.tags), Ipv6CidrBlockAssociationSet: itemList[ipv6AssocXML]{Items: []ipv6AssocXML{}}}
		if v.CIDR.IsValid() {
			x.CidrBlock = v.CIDR.String()
		}
		if v.IPv6CIDR.IsValid() {
			x.Ipv6CidrBlockAssociationSet.Items = append(x.Ipv6CidrBlockAssociationSet.Items, ipv6AssocXML{
				AssociationID: "subnet-cidr-assoc-" + strings.TrimPrefix(v.ID, "subnet-"), Ipv6CidrBlock: v.IPv6CIDR.String(), Ipv6CidrBlockState: stateXML{"associated"}})
		}
		out.SubnetSet.Items = append(out.SubnetSet.Items, x)
	}
	return out, nil
}

type attachmentXML struct {
	AttachmentID        string `xml:"attachmentId"`
	InstanceID          string `xml:"instanceId,omitempty"`
	InstanceOwnerID     string `xml:"instanceOwnerId,omitempty"`
	DeviceIndex         int    `xml:"deviceIndex"`
	NetworkCardIndex    int    `xml:"networkCardIndex"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type privateIPXML struct {
	PrivateIPAddress string `xml:"privateIpAddress"`
	PrivateDNSName   string `xml:"privateDnsName"`
	Primary          bool   `xml:"primary"`
}

type ipv6XML struct {
	Ipv6Address string `xml:"ipv6Address"`
}

type groupXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type eniXML struct {
	NetworkInterfaceID    string                 `xml:"networkInterfaceId"`
	SubnetID              string                 `xml:"subnetId"`
	VpcID                 string                 `xml:"vpcId"`
	AvailabilityZone      string                 `xml:"availabilityZone,omitempty"`
	Description           string                 `xml:"description"`
	OwnerID               string                 `xml:"ownerId,omitempty"`
	RequesterManaged      *bool                  `xml:"requesterManaged,omitempty"`
	Status                string                 `xml:"status"`
	MacAddress            string                 `xml:"macAddress"`
	PrivateIPAddress      string                 `xml:"privateIpAddress,omitempty"`
	PrivateDNSName        string                 `xml:"privateDnsName,omitempty"`
	SourceDestCheck       bool                   `xml:"sourceDestCheck"`
	GroupSet              itemList[groupXML]     `xml:"groupSet"`
	Attachment            attachmentXML          `xml:"attachment"`
	TagSet                *itemList[tagXML]      `xml:"tagSet,omitempty"`
	PrivateIPAddressesSet itemList[privateIPXML] `xml:"privateIpAddressesSet"`
	Ipv6AddressesSet      itemList[ipv6XML]      `xml:"ipv6AddressesSet"`
	InterfaceType         string                 `xml:"interfaceType"`
}

type describeENIsResponse struct {
	respMeta
	NetworkInterfaceSet itemList[eniXML] `xml:"networkInterfaceSet"`
	NextToken           string           `xml:"nextToken,omitempty"`
}

type eniView struct {
	inventory.Interface
	owner string
	tags  []Tag
}

// interfaceTags are the tags derived for an interface: Name is the Linux
// interface name, so `--filters Name=tag:Name,Values=eth0` finds it.
func interfaceTags(i *inventory.Interface) []Tag { return []Tag{{Key: "Name", Value: i.Name}} }

// dnsName is the private DNS name AWS gives an IPv4 address.
func dnsName(ip netip.Addr, region string) string {
	if !ip.Is4() {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for k, a := range as {
		out[k] = a.String()
	}
	return out
}

func primaryStr(i *inventory.Interface) []string {
	if ip := i.PrimaryIP(); ip.IsValid() {
		return []string{ip.String()}
	}
	return nil
}

func description(i *inventory.Interface) string {
	if i.Hostname != "" {
		return i.Name + " on " + i.Hostname
	}
	return i.Name
}

var eniFilters = filterSet[eniView]{
	"network-interface-id":         func(i *eniView) []string { return []string{i.ID} },
	"addresses.private-ip-address": func(i *eniView) []string { return addrStrings(i.PrivateIPs) },
	"addresses.primary":            func(i *eniView) []string { return []string{"true"} },
	"private-ip-address":           func(i *eniView) []string { return primaryStr(&i.Interface) },
	"private-dns-name":             func(i *eniView) []string { return []string{dnsName(i.PrimaryIP(), i.Region)} },
	"ipv6-addresses.ipv6-address":  func(i *eniView) []string { return addrStrings(i.IPv6) },
	"vpc-id":                       func(i *eniView) []string { return []string{i.VPCID} },
	"subnet-id":                    func(i *eniView) []string { return []string{i.SubnetID} },
	"attachment.instance-id":       func(i *eniView) []string { return []string{i.InstanceID} },
	"attachment.instance-owner-id": func(i *eniView) []string { return []string{i.owner} },
	"attachment.attachment-id":     func(i *eniView) []string { return []string{inventory.AttachmentID(i.ID)} },
	"attachment.device-index":      func(i *eniView) []string { return []string{strconv.Itoa(i.DeviceIndex)} },
	"attachment.status":            func(i *eniView) []string { return []string{"attached"} },
	"attachment.delete-on-termination": func(i *eniView) []string {
		return []string{strconv.FormatBool(i.DeviceIndex == 0)}
	},
	"availability-zone": func(i *eniView) []string { return []string{i.AZ} },
	"mac-address":       func(i *eniView) []string { return []string{i.MAC} },
	"status":            func(i *eniView) []string { return []string{"in-use"} },
	"description":       func(i *eniView) []string { return []string{description(&i.Interface)} },
	"owner-id":          func(i *eniView) []string { return []string{i.owner} },
	"requester-managed": func(i *eniView) []string { return []string{"false"} },
	"source-dest-check": func(i *eniView) []string { return []string{"true"} },
	"interface-type":    func(i *eniView) []string { return []string{"interface"} },
}

func (s *Service) eniXML(i *inventory.Interface, userTags []Tag) eniXML {
	f := false
	tags := tagsXML(withTags(interfaceTags(i), userTags))
	x := eniXML{NetworkInterfaceID: i.ID, SubnetID: i.SubnetID, VpcID: i.VPCID, AvailabilityZone: i.AZ,
		Description: description(i), OwnerID: s.account, RequesterManaged: &f, Status: "in-use", MacAddress: i.MAC,
		SourceDestCheck: true, GroupSet: itemList[groupXML]{Items: []groupXML{}}, TagSet: &tags, InterfaceType: "interface",
		Attachment: attachmentXML{AttachmentID: inventory.AttachmentID(i.ID), InstanceID: i.InstanceID, InstanceOwnerID: s.account,
			DeviceIndex: i.DeviceIndex, Status: "attached", AttachTime: timestamp(i.AttachTime), DeleteOnTermination: i.DeviceIndex == 0},
		PrivateIPAddressesSet: itemList[privateIPXML]{Items: []privateIPXML{}}, Ipv6AddressesSet: itemList[ipv6XML]{Items: []ipv6XML{}}}
	if ip := i.PrimaryIP(); ip.IsValid() {
		x.PrivateIPAddress = ip.String()
		x.PrivateDNSName = dnsName(ip, i.Region)
	}
	for k, ip := range i.PrivateIPs {
		x.PrivateIPAddressesSet.Items = append(x.PrivateIPAddressesSet.Items, privateIPXML{PrivateIPAddress: ip.String(), PrivateDNSName: dnsName(ip, i.Region), Primary: k == 0})
	}
	for _, ip := range i.IPv6 {
		x.Ipv6AddressesSet.Items = append(x.Ipv6AddressesSet.Items, ipv6XML{ip.String()})
	}
	return x
}

func (s *Service) describeNetworkInterfaces(rq *request) (response, error) {
	pg, next, err := describePage(s, rq, describeSpec[eniView]{
		idParam: "NetworkInterfaceId", filters: eniFilters, id: func(v *eniView) string { return v.ID },
		kind: "NetworkInterface", noun: "networkInterface", token: "ec2-enis",
		idsWithMax: "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults",
		views: func() (all []eniView) {
			for _, x := range s.inv.Interfaces() {
				all = append(all, eniView{x, s.account, withTags(interfaceTags(&x), s.resourceTags(x.ID))})
			}
			return all
		},
	})
	if err != nil {
		return nil, err
	}
	out := &describeENIsResponse{NetworkInterfaceSet: itemList[eniXML]{Items: []eniXML{}}, NextToken: next}
	for _, v := range pg {
		out.NetworkInterfaceSet.Items = append(out.NetworkInterfaceSet.Items, s.eniXML(&v.Interface, s.resourceTags(v.ID)))
	}
	return out, nil
}

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type placementXML struct {
	AvailabilityZone string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
}

type instanceXML struct {
	InstanceID          string             `xml:"instanceId"`
	InstanceState       instanceStateXML   `xml:"instanceState"`
	PrivateDNSName      string             `xml:"privateDnsName"`
	DNSName             string             `xml:"dnsName"`
	AmiLaunchIndex      int                `xml:"amiLaunchIndex"`
	LaunchTime          string             `xml:"launchTime"`
	Placement           placementXML       `xml:"placement"`
	Monitoring          stateXML           `xml:"monitoring"`
	SubnetID            string             `xml:"subnetId,omitempty"`
	VpcID               string             `xml:"vpcId"`
	PrivateIPAddress    string             `xml:"privateIpAddress,omitempty"`
	Architecture        string             `xml:"architecture,omitempty"`
	RootDeviceType      string             `xml:"rootDeviceType"`
	GroupSet            itemList[groupXML] `xml:"groupSet"`
	NetworkInterfaceSet itemList[eniXML]   `xml:"networkInterfaceSet"`
	TagSet              itemList[tagXML]   `xml:"tagSet"`
	PlatformDetails     string             `xml:"platformDetails"`
}

type reservationXML struct {
	ReservationID string                `xml:"reservationId"`
	OwnerID       string                `xml:"ownerId"`
	GroupSet      itemList[groupXML]    `xml:"groupSet"`
	InstancesSet  itemList[instanceXML] `xml:"instancesSet"`
}

type describeInstancesResponse struct {
	respMeta
	ReservationSet itemList[reservationXML] `xml:"reservationSet"`
	NextToken      string                   `xml:"nextToken,omitempty"`
}

type instanceView struct {
	inventory.Instance
	owner  string
	ifaces []inventory.Interface
	tags   []Tag
}

// instanceTags are the tags derived for an instance: Name is the hostname.
func instanceTags(i *inventory.Instance) []Tag {
	if i.Hostname == "" {
		return nil
	}
	return []Tag{{Key: "Name", Value: i.Hostname}}
}

func ifaceValues(i *instanceView, f func(*inventory.Interface) []string) []string {
	var out []string
	for k := range i.ifaces {
		out = append(out, f(&i.ifaces[k])...)
	}
	return out
}

var instanceFilters = filterSet[instanceView]{
	"instance-id":         func(i *instanceView) []string { return []string{i.ID} },
	"vpc-id":              func(i *instanceView) []string { return []string{i.VPCID} },
	"subnet-id":           func(i *instanceView) []string { return []string{i.SubnetID} },
	"availability-zone":   func(i *instanceView) []string { return []string{i.AZ} },
	"instance-state-name": func(i *instanceView) []string { return []string{"running"} },
	"instance-state-code": func(i *instanceView) []string { return []string{"16"} },
	"owner-id":            func(i *instanceView) []string { return []string{i.owner} },
	"reservation-id":      func(i *instanceView) []string { return []string{inventory.ReservationID(i.ID)} },
	"tenancy":             func(i *instanceView) []string { return []string{"default"} },
	"private-ip-address": func(i *instanceView) []string {
		if i.PrivateIP.IsValid() {
			return []string{i.PrivateIP.String()}
		}
		return nil
	},
	"private-dns-name": func(i *instanceView) []string { return []string{dnsName(i.PrivateIP, i.Region)} },
	"network-interface.network-interface-id": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return []string{x.ID} })
	},
	"network-interface.addresses.private-ip-address": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return addrStrings(x.PrivateIPs) })
	},
	"network-interface.mac-address": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return []string{x.MAC} })
	},
	"network-interface.subnet-id": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return []string{x.SubnetID} })
	},
	"network-interface.vpc-id": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return []string{x.VPCID} })
	},
	"network-interface.ipv6-addresses.ipv6-address": func(i *instanceView) []string {
		return ifaceValues(i, func(x *inventory.Interface) []string { return addrStrings(x.IPv6) })
	},
}

func (s *Service) describeInstances(rq *request) (response, error) {
	pg, next, err := describePage(s, rq, describeSpec[instanceView]{
		idParam: "InstanceId", filters: instanceFilters, id: func(v *instanceView) string { return v.ID },
		kind: "Instance", noun: "instance", token: "ec2-instances",
		idsWithMax: "The parameter instancesSet cannot be used with the parameter maxResults",
		views: func() (all []instanceView) {
			for _, x := range s.inv.Instances() {
				all = append(all, instanceView{x, s.account, s.inv.InstanceInterfaces(x.ID), withTags(instanceTags(&x), s.resourceTags(x.ID))})
			}
			return all
		},
	})
	if err != nil {
		return nil, err
	}
	out := &describeInstancesResponse{ReservationSet: itemList[reservationXML]{Items: []reservationXML{}}, NextToken: next}
	for _, v := range pg {
		x := instanceXML{InstanceID: v.ID, InstanceState: instanceStateXML{16, "running"}, PrivateDNSName: dnsName(v.PrivateIP, v.Region),
			LaunchTime: timestamp(v.LaunchTime), Placement: placementXML{v.AZ, "default"}, Monitoring: stateXML{"disabled"},
			SubnetID: v.SubnetID, VpcID: v.VPCID, RootDeviceType: "ebs", PlatformDetails: "Linux/UNIX",
			GroupSet: itemList[groupXML]{Items: []groupXML{}}, NetworkInterfaceSet: itemList[eniXML]{Items: []eniXML{}},
			TagSet: tagsXML(v.tags)}
		if v.PrivateIP.IsValid() {
			x.PrivateIPAddress = v.PrivateIP.String()
		}
		for k := range v.ifaces {
			e := s.eniXML(&v.ifaces[k], nil)
			// Inside an instance the interface omits what the instance
			// already says (AWS's InstanceNetworkInterface shape).
			e.AvailabilityZone, e.RequesterManaged, e.TagSet = "", nil, nil
			e.Attachment.InstanceID, e.Attachment.InstanceOwnerID = "", ""
			x.NetworkInterfaceSet.Items = append(x.NetworkInterfaceSet.Items, e)
		}
		out.ReservationSet.Items = append(out.ReservationSet.Items, reservationXML{ReservationID: inventory.ReservationID(v.ID),
			OwnerID: s.account, GroupSet: itemList[groupXML]{Items: []groupXML{}}, InstancesSet: itemList[instanceXML]{Items: []instanceXML{x}}})
	}
	return out, nil
}
