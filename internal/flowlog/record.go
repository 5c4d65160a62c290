package flowlog

import (
	"net/netip"
)

// NA is the value of an integer field that is written as "-". Valid values
// of every integer field are non-negative.
const NA = -1

// Action is the action field.
type Action uint8

const (
	ActionNone   Action = iota // "-" (NODATA, SKIPDATA)
	ActionAccept               // ACCEPT
	ActionReject               // REJECT
)

var actionText = [...]string{"-", "ACCEPT", "REJECT"}

func (a Action) String() string {
	if int(a) < len(actionText) {
		return actionText[a]
	}
	return "-"
}

// LogStatus is the log-status field.
type LogStatus uint8

const (
	StatusNone     LogStatus = iota // "-": only in records built by hand
	StatusOK                        // OK
	StatusNoData                    // NODATA
	StatusSkipData                  // SKIPDATA
)

var statusText = [...]string{"-", "OK", "NODATA", "SKIPDATA"}

func (s LogStatus) String() string {
	if int(s) < len(statusText) {
		return statusText[s]
	}
	return "-"
}

// AddrType is the type field.
type AddrType uint8

const (
	TypeNone AddrType = iota // "-"
	TypeIPv4
	TypeIPv6
	TypeEFA
)

var typeText = [...]string{"-", "IPv4", "IPv6", "EFA"}

func (t AddrType) String() string {
	if int(t) < len(typeText) {
		return typeText[t]
	}
	return "-"
}

// Direction is the flow-direction field.
type Direction uint8

const (
	DirNone Direction = iota // "-"
	DirIngress
	DirEgress
)

var dirText = [...]string{"-", "ingress", "egress"}

func (d Direction) String() string {
	if int(d) < len(dirText) {
		return dirText[d]
	}
	return "-"
}

// Record holds every catalogued field of one flow log record. Absent values
// ("-") are NA for integers, the zero netip.Addr for addresses, "" for
// strings and the None constant for enums; Blank returns a record with every
// field absent. Decoded string fields alias the decoded line.
type Record struct {
	// Version is what a decoded line carried; encoding writes the format's
	// version instead, as AWS computes it from the format.
	Version     int32
	AccountID   string
	InterfaceID string
	SrcAddr     netip.Addr
	DstAddr     netip.Addr
	SrcPort     int32
	DstPort     int32
	Protocol    int32
	Packets     int64
	Bytes       int64
	Start       int64 // unix seconds
	End         int64 // unix seconds
	Action      Action
	LogStatus   LogStatus

	VPCID      string
	SubnetID   string
	InstanceID string
	TCPFlags   int32
	Type       AddrType
	PktSrcAddr netip.Addr
	PktDstAddr netip.Addr

	Region          string
	AZID            string
	SublocationType string
	SublocationID   string

	PktSrcAWSService string
	PktDstAWSService string
	FlowDirection    Direction
	TrafficPath      int32

	ResourceType           string
	TGWID                  string
	TGWAttachmentID        string
	TGWSrcVPCAccountID     string
	TGWDstVPCAccountID     string
	TGWSrcVPCID            string
	TGWDstVPCID            string
	TGWSrcSubnetID         string
	TGWDstSubnetID         string
	TGWSrcENI              string
	TGWDstENI              string
	TGWSrcAZID             string
	TGWDstAZID             string
	TGWPairAttachmentID    string
	PacketsLostNoRoute     int64
	PacketsLostBlackhole   int64
	PacketsLostMTUExceeded int64
	PacketsLostTTLExpired  int64

	ECSClusterARN           string
	ECSClusterName          string
	ECSContainerInstanceARN string
	ECSContainerInstanceID  string
	ECSContainerID          string
	ECSSecondContainerID    string
	ECSServiceName          string
	ECSTaskDefinitionARN    string
	ECSTaskARN              string
	ECSTaskID               string

	RejectReason string

	ResourceID       string
	EncryptionStatus int32

	InstanceTag          string
	InstanceTag2         string
	InterfaceTag         string
	InterfaceTag2        string
	ASGTag               string
	ASGTag2              string
	InterfaceType        string
	NextHopInterfaceID   string
	NextHopSubnetID      string
	NextHopAZID          string
	NextHopVPCID         string
	NextHopInterfaceType string
}

var blank = Record{
	Version: NA, SrcPort: NA, DstPort: NA, Protocol: NA, Packets: NA, Bytes: NA,
	Start: NA, End: NA, TCPFlags: NA, TrafficPath: NA,
	PacketsLostNoRoute: NA, PacketsLostBlackhole: NA, PacketsLostMTUExceeded: NA,
	PacketsLostTTLExpired: NA, EncryptionStatus: NA,
}

// Blank returns a record in which every field is absent ("-").
func Blank() Record { return blank }

// Reset makes every field of r absent.
func (r *Record) Reset() { *r = blank }

// ClearFlow makes the per-flow fields absent, as in NODATA and SKIPDATA
// records, keeping the interface metadata and start/end.
func (r *Record) ClearFlow() {
	r.SrcAddr, r.DstAddr = netip.Addr{}, netip.Addr{}
	r.SrcPort, r.DstPort, r.Protocol = NA, NA, NA
	r.Packets, r.Bytes = NA, NA
	r.Action = ActionNone
	r.TCPFlags, r.Type = NA, TypeNone
	r.PktSrcAddr, r.PktDstAddr = netip.Addr{}, netip.Addr{}
	r.PktSrcAWSService, r.PktDstAWSService = "", ""
	r.FlowDirection, r.TrafficPath = DirNone, NA
	r.RejectReason = ""
}

// Int returns an integer field's value; ok is false when id is not an
// integer field or the value is absent.
func (r *Record) Int(id FieldID) (v int64, ok bool) {
	if p := r.intPtr32(id); p != nil {
		v = int64(*p)
	} else if p := r.intPtr64(id); p != nil {
		v = *p
	} else {
		return 0, false
	}
	return v, v >= 0
}

func (r *Record) intPtr32(id FieldID) *int32 {
	switch id {
	case FieldVersion:
		return &r.Version
	case FieldSrcPort:
		return &r.SrcPort
	case FieldDstPort:
		return &r.DstPort
	case FieldProtocol:
		return &r.Protocol
	case FieldTCPFlags:
		return &r.TCPFlags
	case FieldTrafficPath:
		return &r.TrafficPath
	case FieldEncryptionStatus:
		return &r.EncryptionStatus
	}
	return nil
}

func (r *Record) intPtr64(id FieldID) *int64 {
	switch id {
	case FieldPackets:
		return &r.Packets
	case FieldBytes:
		return &r.Bytes
	case FieldStart:
		return &r.Start
	case FieldEnd:
		return &r.End
	case FieldPacketsLostNoRoute:
		return &r.PacketsLostNoRoute
	case FieldPacketsLostBlackhole:
		return &r.PacketsLostBlackhole
	case FieldPacketsLostMTUExceeded:
		return &r.PacketsLostMTUExceeded
	case FieldPacketsLostTTLExpired:
		return &r.PacketsLostTTLExpired
	}
	return nil
}

func (r *Record) addrPtr(id FieldID) *netip.Addr {
	switch id {
	case FieldSrcAddr:
		return &r.SrcAddr
	case FieldDstAddr:
		return &r.DstAddr
	case FieldPktSrcAddr:
		return &r.PktSrcAddr
	case FieldPktDstAddr:
		return &r.PktDstAddr
	}
	return nil
}

func (r *Record) strPtr(id FieldID) *string {
	switch id {
	case FieldAccountID:
		return &r.AccountID
	case FieldInterfaceID:
		return &r.InterfaceID
	case FieldVPCID:
		return &r.VPCID
	case FieldSubnetID:
		return &r.SubnetID
	case FieldInstanceID:
		return &r.InstanceID
	case FieldRegion:
		return &r.Region
	case FieldAZID:
		return &r.AZID
	case FieldSublocationType:
		return &r.SublocationType
	case FieldSublocationID:
		return &r.SublocationID
	case FieldPktSrcAWSService:
		return &r.PktSrcAWSService
	case FieldPktDstAWSService:
		return &r.PktDstAWSService
	case FieldResourceType:
		return &r.ResourceType
	case FieldTGWID:
		return &r.TGWID
	case FieldTGWAttachmentID:
		return &r.TGWAttachmentID
	case FieldTGWSrcVPCAccountID:
		return &r.TGWSrcVPCAccountID
	case FieldTGWDstVPCAccountID:
		return &r.TGWDstVPCAccountID
	case FieldTGWSrcVPCID:
		return &r.TGWSrcVPCID
	case FieldTGWDstVPCID:
		return &r.TGWDstVPCID
	case FieldTGWSrcSubnetID:
		return &r.TGWSrcSubnetID
	case FieldTGWDstSubnetID:
		return &r.TGWDstSubnetID
	case FieldTGWSrcENI:
		return &r.TGWSrcENI
	case FieldTGWDstENI:
		return &r.TGWDstENI
	case FieldTGWSrcAZID:
		return &r.TGWSrcAZID
	case FieldTGWDstAZID:
		return &r.TGWDstAZID
	case FieldTGWPairAttachmentID:
		return &r.TGWPairAttachmentID
	case FieldECSClusterARN:
		return &r.ECSClusterARN
	case FieldECSClusterName:
		return &r.ECSClusterName
	case FieldECSContainerInstanceARN:
		return &r.ECSContainerInstanceARN
	case FieldECSContainerInstanceID:
		return &r.ECSContainerInstanceID
	case FieldECSContainerID:
		return &r.ECSContainerID
	case FieldECSSecondContainerID:
		return &r.ECSSecondContainerID
	case FieldECSServiceName:
		return &r.ECSServiceName
	case FieldECSTaskDefinitionARN:
		return &r.ECSTaskDefinitionARN
	case FieldECSTaskARN:
		return &r.ECSTaskARN
	case FieldECSTaskID:
		return &r.ECSTaskID
	case FieldRejectReason:
		return &r.RejectReason
	case FieldResourceID:
		return &r.ResourceID
	case FieldInstanceTag:
		return &r.InstanceTag
	case FieldInstanceTag2:
		return &r.InstanceTag2
	case FieldInterfaceTag:
		return &r.InterfaceTag
	case FieldInterfaceTag2:
		return &r.InterfaceTag2
	case FieldASGTag:
		return &r.ASGTag
	case FieldASGTag2:
		return &r.ASGTag2
	case FieldInterfaceType:
		return &r.InterfaceType
	case FieldNextHopInterfaceID:
		return &r.NextHopInterfaceID
	case FieldNextHopSubnetID:
		return &r.NextHopSubnetID
	case FieldNextHopAZID:
		return &r.NextHopAZID
	case FieldNextHopVPCID:
		return &r.NextHopVPCID
	case FieldNextHopInterfaceType:
		return &r.NextHopInterfaceType
	}
	return nil
}
