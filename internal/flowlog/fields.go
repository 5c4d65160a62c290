// Package flowlog owns the VPC flow log record: the field catalogue (v2–v8
// plus the newer fields the spec lists), default and custom formats with
// AWS's LogFormat validation, the Record struct, and the text encoding and
// decoding of record lines.
//
// Every other package (capture, delivery, import, the store's token columns,
// Parquet export) derives what it needs from the single catalogue in this
// file, so a field is added in one place.
package flowlog

// FieldID identifies a catalogued field. IDs are stable only within one
// build; persist field names, never IDs.
type FieldID uint8

// The catalogue, in AWS's table order (v2 in default-format order first).
const (
	FieldVersion FieldID = iota
	FieldAccountID
	FieldInterfaceID
	FieldSrcAddr
	FieldDstAddr
	FieldSrcPort
	FieldDstPort
	FieldProtocol
	FieldPackets
	FieldBytes
	FieldStart
	FieldEnd
	FieldAction
	FieldLogStatus
	// v3
	FieldVPCID
	FieldSubnetID
	FieldInstanceID
	FieldTCPFlags
	FieldType
	FieldPktSrcAddr
	FieldPktDstAddr
	// v4
	FieldRegion
	FieldAZID
	FieldSublocationType
	FieldSublocationID
	// v5
	FieldPktSrcAWSService
	FieldPktDstAWSService
	FieldFlowDirection
	FieldTrafficPath
	// v6 (Transit Gateway flow logs only)
	FieldResourceType
	FieldTGWID
	FieldTGWAttachmentID
	FieldTGWSrcVPCAccountID
	FieldTGWDstVPCAccountID
	FieldTGWSrcVPCID
	FieldTGWDstVPCID
	FieldTGWSrcSubnetID
	FieldTGWDstSubnetID
	FieldTGWSrcENI
	FieldTGWDstENI
	FieldTGWSrcAZID
	FieldTGWDstAZID
	FieldTGWPairAttachmentID
	FieldPacketsLostNoRoute
	FieldPacketsLostBlackhole
	FieldPacketsLostMTUExceeded
	FieldPacketsLostTTLExpired
	// v7 (ECS)
	FieldECSClusterARN
	FieldECSClusterName
	FieldECSContainerInstanceARN
	FieldECSContainerInstanceID
	FieldECSContainerID
	FieldECSSecondContainerID
	FieldECSServiceName
	FieldECSTaskDefinitionARN
	FieldECSTaskARN
	FieldECSTaskID
	// v8
	FieldRejectReason
	// v9, v10
	FieldResourceID
	FieldEncryptionStatus
	// v11 (unverified)
	FieldInstanceTag
	FieldInstanceTag2
	FieldInterfaceTag
	FieldInterfaceTag2
	FieldASGTag
	FieldASGTag2
	FieldInterfaceType
	FieldNextHopInterfaceID
	FieldNextHopSubnetID
	FieldNextHopAZID
	FieldNextHopVPCID
	FieldNextHopInterfaceType

	NumFields int = iota
)

// Kind is how a field's value is held in a Record.
type Kind uint8

const (
	KindString Kind = iota // free text without spaces; "" is written as "-"
	KindInt                // non-negative integer; NA is written as "-"
	KindAddr               // IPv4 or IPv6 address; the zero netip.Addr is "-"
	KindEnum               // a small closed set (action, log-status, type, flow-direction)
)

// ParquetType is the Parquet type AWS documents for a field.
type ParquetType string

const (
	ParquetInt32  ParquetType = "INT_32"
	ParquetInt64  ParquetType = "INT_64"
	ParquetString ParquetType = "STRING"
)

// FieldSpec describes one field of the catalogue.
type FieldSpec struct {
	ID      FieldID
	Name    string // as in LogFormat: "pkt-src-aws-service"
	Version int    // Flow Logs release that introduced the field
	Kind    Kind
	Parquet ParquetType
	Athena  string // column type in AWS's Athena DDL
	// Column is the Parquet / Athena column name (hyphens become underscores).
	Column string
	// Insights is the Logs Insights field name. Only the 14 default-format
	// fields are auto-discovered by AWS (Discovered); the camelCase names of
	// the others follow the same convention but are unverified.
	Insights   string
	Discovered bool
	// TransitGateway marks v6 fields, valid only in Transit Gateway flow logs.
	TransitGateway bool
	// Unverified marks fields seen only in third-party material; ParseFormat
	// rejects them unless ParseOptions.Unverified is set.
	Unverified bool
}

func f(id FieldID, name string, ver int, k Kind, pq ParquetType, athena, insights string) FieldSpec {
	col := []byte(name)
	for i, c := range col {
		if c == '-' {
			col[i] = '_'
		}
	}
	return FieldSpec{ID: id, Name: name, Version: ver, Kind: k, Parquet: pq, Athena: athena,
		Column: string(col), Insights: insights}
}

// Catalogue lists every field, indexed by FieldID. Treat it as read-only.
var Catalogue = func() [NumFields]FieldSpec {
	s, i32, i64, a := ParquetString, ParquetInt32, ParquetInt64, KindAddr
	list := []FieldSpec{
		f(FieldVersion, "version", 2, KindInt, i32, "int", "version"),
		f(FieldAccountID, "account-id", 2, KindString, s, "string", "accountId"),
		f(FieldInterfaceID, "interface-id", 2, KindString, s, "string", "interfaceId"),
		f(FieldSrcAddr, "srcaddr", 2, a, s, "string", "srcAddr"),
		f(FieldDstAddr, "dstaddr", 2, a, s, "string", "dstAddr"),
		f(FieldSrcPort, "srcport", 2, KindInt, i32, "int", "srcPort"),
		f(FieldDstPort, "dstport", 2, KindInt, i32, "int", "dstPort"),
		f(FieldProtocol, "protocol", 2, KindInt, i32, "bigint", "protocol"),
		f(FieldPackets, "packets", 2, KindInt, i64, "bigint", "packets"),
		f(FieldBytes, "bytes", 2, KindInt, i64, "bigint", "bytes"),
		f(FieldStart, "start", 2, KindInt, i64, "bigint", "start"),
		f(FieldEnd, "end", 2, KindInt, i64, "bigint", "end"),
		f(FieldAction, "action", 2, KindEnum, s, "string", "action"),
		f(FieldLogStatus, "log-status", 2, KindEnum, s, "string", "logStatus"),

		f(FieldVPCID, "vpc-id", 3, KindString, s, "string", "vpcId"),
		f(FieldSubnetID, "subnet-id", 3, KindString, s, "string", "subnetId"),
		f(FieldInstanceID, "instance-id", 3, KindString, s, "string", "instanceId"),
		f(FieldTCPFlags, "tcp-flags", 3, KindInt, i32, "int", "tcpFlags"),
		f(FieldType, "type", 3, KindEnum, s, "string", "type"),
		f(FieldPktSrcAddr, "pkt-srcaddr", 3, a, s, "string", "pktSrcAddr"),
		f(FieldPktDstAddr, "pkt-dstaddr", 3, a, s, "string", "pktDstAddr"),

		f(FieldRegion, "region", 4, KindString, s, "string", "region"),
		f(FieldAZID, "az-id", 4, KindString, s, "string", "azId"),
		f(FieldSublocationType, "sublocation-type", 4, KindString, s, "string", "sublocationType"),
		f(FieldSublocationID, "sublocation-id", 4, KindString, s, "string", "sublocationId"),

		f(FieldPktSrcAWSService, "pkt-src-aws-service", 5, KindString, s, "string", "pktSrcAwsService"),
		f(FieldPktDstAWSService, "pkt-dst-aws-service", 5, KindString, s, "string", "pktDstAwsService"),
		f(FieldFlowDirection, "flow-direction", 5, KindEnum, s, "string", "flowDirection"),
		f(FieldTrafficPath, "traffic-path", 5, KindInt, i32, "int", "trafficPath"),

		f(FieldResourceType, "resource-type", 6, KindString, s, "string", "resourceType"),
		f(FieldTGWID, "tgw-id", 6, KindString, s, "string", "tgwId"),
		f(FieldTGWAttachmentID, "tgw-attachment-id", 6, KindString, s, "string", "tgwAttachmentId"),
		f(FieldTGWSrcVPCAccountID, "tgw-src-vpc-account-id", 6, KindString, s, "string", "tgwSrcVpcAccountId"),
		f(FieldTGWDstVPCAccountID, "tgw-dst-vpc-account-id", 6, KindString, s, "string", "tgwDstVpcAccountId"),
		f(FieldTGWSrcVPCID, "tgw-src-vpc-id", 6, KindString, s, "string", "tgwSrcVpcId"),
		f(FieldTGWDstVPCID, "tgw-dst-vpc-id", 6, KindString, s, "string", "tgwDstVpcId"),
		f(FieldTGWSrcSubnetID, "tgw-src-subnet-id", 6, KindString, s, "string", "tgwSrcSubnetId"),
		f(FieldTGWDstSubnetID, "tgw-dst-subnet-id", 6, KindString, s, "string", "tgwDstSubnetId"),
		f(FieldTGWSrcENI, "tgw-src-eni", 6, KindString, s, "string", "tgwSrcEni"),
		f(FieldTGWDstENI, "tgw-dst-eni", 6, KindString, s, "string", "tgwDstEni"),
		f(FieldTGWSrcAZID, "tgw-src-az-id", 6, KindString, s, "string", "tgwSrcAzId"),
		f(FieldTGWDstAZID, "tgw-dst-az-id", 6, KindString, s, "string", "tgwDstAzId"),
		f(FieldTGWPairAttachmentID, "tgw-pair-attachment-id", 6, KindString, s, "string", "tgwPairAttachmentId"),
		f(FieldPacketsLostNoRoute, "packets-lost-no-route", 6, KindInt, i64, "bigint", "packetsLostNoRoute"),
		f(FieldPacketsLostBlackhole, "packets-lost-blackhole", 6, KindInt, i64, "bigint", "packetsLostBlackhole"),
		f(FieldPacketsLostMTUExceeded, "packets-lost-mtu-exceeded", 6, KindInt, i64, "bigint", "packetsLostMtuExceeded"),
		f(FieldPacketsLostTTLExpired, "packets-lost-ttl-expired", 6, KindInt, i64, "bigint", "packetsLostTtlExpired"),

		f(FieldECSClusterARN, "ecs-cluster-arn", 7, KindString, s, "string", "ecsClusterArn"),
		f(FieldECSClusterName, "ecs-cluster-name", 7, KindString, s, "string", "ecsClusterName"),
		f(FieldECSContainerInstanceARN, "ecs-container-instance-arn", 7, KindString, s, "string", "ecsContainerInstanceArn"),
		f(FieldECSContainerInstanceID, "ecs-container-instance-id", 7, KindString, s, "string", "ecsContainerInstanceId"),
		f(FieldECSContainerID, "ecs-container-id", 7, KindString, s, "string", "ecsContainerId"),
		f(FieldECSSecondContainerID, "ecs-second-container-id", 7, KindString, s, "string", "ecsSecondContainerId"),
		f(FieldECSServiceName, "ecs-service-name", 7, KindString, s, "string", "ecsServiceName"),
		f(FieldECSTaskDefinitionARN, "ecs-task-definition-arn", 7, KindString, s, "string", "ecsTaskDefinitionArn"),
		f(FieldECSTaskARN, "ecs-task-arn", 7, KindString, s, "string", "ecsTaskArn"),
		f(FieldECSTaskID, "ecs-task-id", 7, KindString, s, "string", "ecsTaskId"),

		f(FieldRejectReason, "reject-reason", 8, KindString, s, "string", "rejectReason"),

		f(FieldResourceID, "resource-id", 9, KindString, s, "string", "resourceId"),
		// TODO(spec): Parquet type of encryption-status is undocumented; its
		// values are 0–3, so INT_32 like the other small enums-as-numbers.
		f(FieldEncryptionStatus, "encryption-status", 10, KindInt, i32, "int", "encryptionStatus"),

		f(FieldInstanceTag, "instance-tag", 11, KindString, s, "string", "instanceTag"),
		f(FieldInstanceTag2, "instance-tag-2", 11, KindString, s, "string", "instanceTag2"),
		f(FieldInterfaceTag, "interface-tag", 11, KindString, s, "string", "interfaceTag"),
		f(FieldInterfaceTag2, "interface-tag-2", 11, KindString, s, "string", "interfaceTag2"),
		f(FieldASGTag, "asg-tag", 11, KindString, s, "string", "asgTag"),
		f(FieldASGTag2, "asg-tag-2", 11, KindString, s, "string", "asgTag2"),
		f(FieldInterfaceType, "interface-type", 11, KindString, s, "string", "interfaceType"),
		f(FieldNextHopInterfaceID, "next-hop-interface-id", 11, KindString, s, "string", "nextHopInterfaceId"),
		f(FieldNextHopSubnetID, "next-hop-subnet-id", 11, KindString, s, "string", "nextHopSubnetId"),
		f(FieldNextHopAZID, "next-hop-az-id", 11, KindString, s, "string", "nextHopAzId"),
		f(FieldNextHopVPCID, "next-hop-vpc-id", 11, KindString, s, "string", "nextHopVpcId"),
		f(FieldNextHopInterfaceType, "next-hop-interface-type", 11, KindString, s, "string", "nextHopInterfaceType"),
	}
	var c [NumFields]FieldSpec
	if len(list) != NumFields {
		panic("flowlog: catalogue length mismatch")
	}
	for i, fs := range list {
		if int(fs.ID) != i {
			panic("flowlog: catalogue out of order at " + fs.Name)
		}
		fs.Discovered = fs.ID <= FieldLogStatus
		fs.TransitGateway = fs.Version == 6
		fs.Unverified = fs.Version == 11
		c[i] = fs
	}
	return c
}()

var byName = func() map[string]FieldID {
	m := make(map[string]FieldID, NumFields)
	for _, fs := range Catalogue {
		m[fs.Name] = fs.ID
	}
	return m
}()

// Lookup returns the field with the given LogFormat name ("srcaddr").
func Lookup(name string) (FieldSpec, bool) {
	id, ok := byName[name]
	if !ok {
		return FieldSpec{}, false
	}
	return Catalogue[id], true
}

// Spec returns the catalogue entry of id.
func (id FieldID) Spec() *FieldSpec { return &Catalogue[id] }

// String returns the LogFormat name of the field.
func (id FieldID) String() string {
	if int(id) >= NumFields {
		return "invalid-field"
	}
	return Catalogue[id].Name
}
