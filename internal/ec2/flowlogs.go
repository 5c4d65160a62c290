package ec2

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// CreateFlowLogs, DescribeFlowLogs and DeleteFlowLogs (spec §6.2–6.4).
// Request-wide defects fail the call (HTTP 400); defects of one resource
// or one flow log id go into the response's unsuccessful list, so that a
// bad id does not fail a 1000-id request.

// resourceTypes maps ResourceType to the id prefix its resources have.
var resourceTypes = map[string]string{
	"VPC":                      "vpc-",
	"Subnet":                   "subnet-",
	"NetworkInterface":         "eni-",
	"TransitGateway":           "tgw-",
	"TransitGatewayAttachment": "tgw-attach-",
	"RegionalNatGateway":       "nat-",
}

func isTransitGateway(t string) bool {
	return t == "TransitGateway" || t == "TransitGatewayAttachment"
}

// createInput is a validated CreateFlowLogs request.
type createInput struct {
	resourceType string
	resourceIDs  []string
	fl           FlowLog // the template every created flow log copies
	clientToken  string
	fingerprint  string
}

func (s *Service) parseCreate(rq *request) (*createInput, error) {
	p := rq.p
	in := &createInput{}
	rt, ok := p.str("ResourceType")
	if !ok || rt == "" {
		return nil, missingParameter("ResourceType")
	}
	prefix, known := resourceTypes[rt]
	if !known {
		return nil, invalidValue("Invalid value '%s' for ResourceType. Valid values: VPC, Subnet, NetworkInterface, TransitGateway, TransitGatewayAttachment, RegionalNatGateway", rt)
	}
	in.resourceType = rt
	in.resourceIDs = p.list("ResourceId")
	if len(in.resourceIDs) == 0 {
		return nil, missingParameter("ResourceId")
	}
	limit := 1000
	if isTransitGateway(rt) {
		limit = 25
	}
	if len(in.resourceIDs) > limit {
		return nil, invalidParameter("The number of resource ids exceeds the maximum of %d for resource-type %s", limit, rt)
	}
	for _, id := range in.resourceIDs {
		// A tgw-attach- id is not a TransitGateway even though it starts
		// with tgw-.
		if !strings.HasPrefix(id, prefix) || (rt == "TransitGateway" && strings.HasPrefix(id, "tgw-attach-")) {
			return nil, invalidParameter("Invalid Resource id %s for resource-type %s", id, rt)
		}
	}

	fl := &in.fl
	fl.ResourceType = rt
	tt, hasTT := p.str("TrafficType")
	switch {
	case isTransitGateway(rt) && hasTT:
		return nil, invalidParameter("TrafficType is not supported for resource-type %s", rt)
	case isTransitGateway(rt):
	case !hasTT || tt == "":
		return nil, missingParameter("TrafficType")
	case tt != "ACCEPT" && tt != "REJECT" && tt != "ALL":
		return nil, invalidValue("Invalid value '%s' for TrafficType. Valid values: ACCEPT, REJECT, ALL", tt)
	}
	fl.TrafficType = tt

	dt := p.get("LogDestinationType")
	if dt == "" {
		dt = DestCloudWatchLogs
	}
	if dt != DestCloudWatchLogs && dt != DestS3 && dt != DestFirehose {
		return nil, invalidValue("Invalid value '%s' for LogDestinationType. Valid values: cloud-watch-logs, s3, kinesis-data-firehose", dt)
	}
	fl.LogDestinationType = dt
	group, dest := p.get("LogGroupName"), p.get("LogDestination")
	role, crossRole := p.get("DeliverLogsPermissionArn"), p.get("DeliverCrossAccountRole")
	// The order of these checks follows AWS's (and moto's) messages: each
	// names the parameter that is wrong given the others.
	if group == "" && dest == "" {
		return nil, invalidParameter("LogDestination can't be empty if LogGroupName is not provided.")
	}
	if dt != DestCloudWatchLogs && group != "" {
		return nil, invalidParameter("LogDestination type must be cloud-watch-logs if LogGroupName is provided.")
	}
	if dt == DestCloudWatchLogs && role == "" {
		return nil, invalidParameter("DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.")
	}
	if dt == DestS3 && role != "" {
		return nil, invalidParameter("DeliverLogsPermissionArn is not applicable for s3 delivery")
	}
	if crossRole != "" && dt != DestFirehose {
		return nil, invalidParameter("DeliverCrossAccountRole is only applicable for kinesis-data-firehose delivery")
	}
	for _, arn := range []string{role, crossRole} {
		if arn != "" && !validRoleARN(arn) {
			return nil, invalidParameter("Invalid role ARN %s: it must be arn:aws:iam::ACCOUNT:role/NAME", arn)
		}
	}
	fl.DeliverLogsPermissionArn, fl.DeliverCrossAccountRole = role, crossRole
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	switch dt {
	case DestCloudWatchLogs:
		if dest != "" {
			name, arnRegion, ok := parseLogGroupARN(dest)
			if !ok {
				return nil, invalidParameter("Invalid LogDestination %s: it must be the ARN of a CloudWatch Logs log group (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)", dest)
			}
			if arnRegion != region {
				return nil, invalidParameter("LogDestination must be in the same region as the API caller.")
			}
			if group != "" && group != name {
				return nil, invalidParameter("Please only provide LogGroupName or only provide LogDestination.")
			}
			group = name
		} else {
			// DescribeFlowLogs reports the group ARN even when the flow
			// log was created with a name (spec §6.3).
			dest = "arn:aws:logs:" + region + ":" + s.account + ":log-group:" + group
		}
		if !validGroupName(strings.TrimSuffix(group, ":*")) {
			return nil, invalidParameter("Invalid LogGroupName %s: 1 to 512 characters of a-z, A-Z, 0-9, '_', '-', '/', '.', '#'", group)
		}
		fl.LogGroupName = group
	case DestS3:
		prefix, ok := parseS3ARN(dest)
		if !ok {
			return nil, invalidParameter("Invalid LogDestination %s: it must be arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/PREFIX/", dest)
		}
		// TODO(spec §5.1): AWS's wording for the reserved prefix is
		// unverified; the rule (no prefix named AWSLogs) is documented.
		if first, _, _ := strings.Cut(strings.Trim(prefix, "/"), "/"); first == "AWSLogs" {
			return nil, invalidParameter("LogDestination %s: the prefix AWSLogs is reserved", dest)
		}
	case DestFirehose:
		if !strings.HasPrefix(dest, "arn:aws:firehose:") || !strings.Contains(dest, ":deliverystream") {
			return nil, invalidParameter("Invalid LogDestination %s: it must be the ARN of a Kinesis Data Firehose delivery stream", dest)
		}
	}
	fl.LogDestination = dest

	format := flowlog.DefaultFormat
	if text, ok := p.str("LogFormat"); ok {
		f, err := flowlog.ParseFormatOptions(text, flowlog.ParseOptions{TransitGateway: isTransitGateway(rt)})
		if err != nil {
			var fe *flowlog.FormatError
			if errors.As(err, &fe) {
				return nil, ec2Error(http.StatusBadRequest, fe.Code(), "%s", fe.Error())
			}
			return nil, err
		}
		format = f
	}
	fl.LogFormat = format

	fl.MaxAggregationInterval = 600
	if n, ok, err := p.integer("MaxAggregationInterval"); err != nil {
		return nil, err
	} else if ok {
		if n != 60 && n != 600 {
			return nil, invalidParameter("Invalid Flow Log Max Aggregation Interval")
		}
		fl.MaxAggregationInterval = n
	}
	if isTransitGateway(rt) && fl.MaxAggregationInterval != 60 {
		return nil, invalidParameter("Invalid Flow Log Max Aggregation Interval: transit gateway flow logs aggregate over 60 seconds")
	}

	opts, given, err := destinationOptions(p)
	if err != nil {
		return nil, err
	}
	switch {
	case dt == DestS3:
		fl.DestinationOptions = &opts
	case given:
		return nil, invalidParameter("DestinationOptions is only supported for s3 LogDestinationType")
	}

	tags, err := flowLogTags(p.tagSpecs())
	if err != nil {
		return nil, err
	}
	fl.Tags = tags

	in.clientToken = p.get("ClientToken")
	if len(in.clientToken) > 64 {
		return nil, invalidValue("Invalid value for ClientToken: it exceeds the maximum length of 64 characters")
	}
	in.fingerprint = fingerprint(p)
	return in, nil
}

// destinationOptions decodes DestinationOptions.*, with AWS's defaults.
func destinationOptions(p params) (DestinationOptions, bool, error) {
	o := DestinationOptions{FileFormat: "plain-text"}
	given := false
	if v, ok := p.str("DestinationOptions.FileFormat"); ok {
		given = true
		if v != "plain-text" && v != "parquet" {
			return o, true, invalidValue("Invalid value '%s' for DestinationOptions.FileFormat. Valid values: plain-text, parquet", v)
		}
		o.FileFormat = v
	}
	for name, dst := range map[string]*bool{"DestinationOptions.HiveCompatiblePartitions": &o.HiveCompatiblePartitions, "DestinationOptions.PerHourPartition": &o.PerHourPartition} {
		if _, ok := p.str(name); ok {
			given = true
		}
		b, err := p.boolean(name)
		if err != nil {
			return o, true, err
		}
		*dst = b
	}
	return o, given, nil
}

// flowLogTags validates TagSpecification.N for CreateFlowLogs.
func flowLogTags(specs []tagSpec) ([]Tag, error) {
	var tags []Tag
	for _, ts := range specs {
		if ts.ResourceType != "vpc-flow-log" {
			return nil, invalidValue("'%s' is not a valid taggable resource type for this operation.", ts.ResourceType)
		}
		tags = append(tags, ts.Tags...)
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

func validateTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.Key == "":
			return invalidValue("Tag key cannot be empty")
		case utf8.RuneCountInString(t.Key) > 127:
			return invalidValue("Tag key exceeds the maximum length of 127 characters")
		case utf8.RuneCountInString(t.Value) > 256:
			return invalidValue("Tag value exceeds the maximum length of 256 characters")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return invalidValue("Tag keys starting with 'aws:' are reserved for internal use")
		case seen[t.Key]:
			return invalidValue("Duplicate tag key '%s' specified", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > 50 {
		return ec2Error(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags per resource is 50")
	}
	return nil
}

func validRoleARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:aws:iam::")
	if !ok {
		return false
	}
	acct, name, ok := strings.Cut(rest, ":role/")
	return ok && len(acct) == 12 && name != ""
}

// parseLogGroupARN splits arn:aws:logs:REGION:ACCOUNT:log-group:NAME; the
// name keeps a ":*" suffix (accepted verbatim, spec §4.5).
func parseLogGroupARN(s string) (name, region string, ok bool) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "logs" || parts[3] == "" || parts[5] != "log-group" || parts[6] == "" {
		return "", "", false
	}
	return parts[6], parts[3], true
}

func validGroupName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-/.#", c) >= 0) {
			return false
		}
	}
	return true
}

// parseS3ARN checks arn:aws:s3:::BUCKET[/PREFIX] (a bucket name of S3's
// characters and length) and returns the prefix.
func parseS3ARN(s string) (prefix string, ok bool) {
	rest, ok := strings.CutPrefix(s, "arn:aws:s3:::")
	if !ok {
		return "", false
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if len(bucket) < 3 || len(bucket) > 63 {
		return "", false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	return prefix, true
}

// fingerprint identifies a request's parameters for ClientToken
// idempotency: every parameter except the token itself and DryRun.
func fingerprint(p params) string {
	keys := make([]string, 0, len(p.v))
	for k := range p.v {
		if k != "ClientToken" && k != "DryRun" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		for _, v := range p.v[k] {
			h.Write([]byte{0})
			h.Write([]byte(v))
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func newFlowLogID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "fl-" + hex.EncodeToString(b[:])[:17]
}

func newClientToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// destinationKey is what makes two flow logs on one resource the same
// configuration (spec §6.2: resource, traffic type, destination type and
// normalised destination).
func destinationKey(f *FlowLog) string {
	d := f.LogDestination
	switch f.LogDestinationType {
	case DestCloudWatchLogs:
		d = f.LogGroupName
	case DestS3:
		d = strings.TrimRight(d, "/")
	}
	return f.Region + "\x00" + f.ResourceID + "\x00" + f.TrafficType + "\x00" + f.LogDestinationType + "\x00" + d
}

// resourceMissing returns the per-resource error for an id of resourceType
// that names nothing in the request's region, or nil when it exists.
func (s *Service) resourceMissing(rq *request, resourceType, id string) *unsuccessful {
	if s.inRegion(rq) {
		switch resourceType {
		case "VPC":
			if id == s.inv.VPCID() {
				return nil
			}
		case "Subnet":
			if len(s.inv.InterfacesUnder(id)) > 0 {
				return nil
			}
		case "NetworkInterface":
			if _, ok := s.inv.Interface(id); ok {
				return nil
			}
		}
	}
	var e *awsapi.Error
	switch resourceType {
	case "VPC":
		e = notFound("Vpc", "vpc", id)
	case "Subnet":
		e = notFound("Subnet", "subnet", id)
	case "NetworkInterface":
		e = notFound("NetworkInterface", "networkInterface", id)
	case "TransitGateway":
		e = notFound("TransitGateway", "transitGateway", id)
	case "TransitGatewayAttachment":
		e = notFound("TransitGatewayAttachment", "transitGatewayAttachment", id)
	default:
		e = ec2Error(http.StatusBadRequest, "NatGatewayNotFound", "The Nat Gateway %s was not found", id)
	}
	return &unsuccessful{ResourceID: id, Code: e.Code, Message: e.Message}
}

type errorXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type unsuccessfulXML struct {
	Error      errorXML `xml:"error"`
	ResourceID string   `xml:"resourceId"`
}

func unsuccessfulList(us []unsuccessful) itemList[unsuccessfulXML] {
	out := itemList[unsuccessfulXML]{Items: []unsuccessfulXML{}}
	for _, u := range us {
		out.Items = append(out.Items, unsuccessfulXML{Error: errorXML{u.Code, u.Message}, ResourceID: u.ResourceID})
	}
	return out
}

type createFlowLogsResponse struct {
	respMeta
	ClientToken  string                    `xml:"clientToken"`
	FlowLogIDSet itemList[string]          `xml:"flowLogIdSet"`
	Unsuccessful itemList[unsuccessfulXML] `xml:"unsuccessful"`
}

func (s *Service) createFlowLogs(rq *request) (response, error) {
	in, err := s.parseCreate(rq)
	if err != nil {
		return nil, err
	}
	// Handing a role to the flow logs service needs iam:PassRole on it
	// (spec §4.2), checked before DryRun as AWS's permission check is.
	if s.authz != nil {
		for _, role := range []string{in.fl.DeliverLogsPermissionArn, in.fl.DeliverCrossAccountRole} {
			if role == "" {
				continue
			}
			if err := s.authz(rq.info, "iam:PassRole", role); err != nil {
				return nil, err
			}
		}
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	s.freshInventory()
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	token := in.clientToken
	if token == "" {
		// AWS returns a token even when none was sent (spec §8.22).
		token = newClientToken()
	}
	reply := func(ids []string, failed []unsuccessful) response {
		return &createFlowLogsResponse{ClientToken: token, FlowLogIDSet: itemList[string]{Items: append([]string{}, ids...)}, Unsuccessful: unsuccessfulList(failed)}
	}

	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.clientToken != "" {
		for _, t := range r.tokens {
			if t.Region == region && t.Token == in.clientToken {
				if t.Fingerprint != in.fingerprint {
					return nil, ec2Error(http.StatusBadRequest, "IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
				}
				return reply(t.FlowLogIDs, t.Failed), nil
			}
		}
	}
	logs := r.copyLogsLocked()
	existing := map[string]bool{}
	for _, fl := range logs {
		existing[destinationKey(fl)] = true
	}
	now := s.now().UTC().Truncate(1e6)
	var ids []string
	var failed []unsuccessful
	for _, rid := range in.resourceIDs {
		if u := s.resourceMissing(rq, in.resourceType, rid); u != nil {
			failed = append(failed, *u)
			continue
		}
		fl := in.fl.clone()
		fl.ID, fl.Region, fl.AccountID, fl.ResourceID = newFlowLogID(), region, s.account, rid
		fl.CreationTime, fl.DeliverLogsStatus = now, StatusSuccess
		key := destinationKey(&fl)
		if existing[key] {
			failed = append(failed, unsuccessful{ResourceID: rid, Code: "FlowLogAlreadyExists",
				Message: "Error. There is an existing Flow Log with the same configuration and log destination."})
			continue
		}
		existing[key] = true
		logs[fl.ID] = &fl
		ids = append(ids, fl.ID)
	}
	tokens := r.tokens
	if in.clientToken != "" {
		tokens = append(slices.Clone(tokens), clientToken{Region: region, Token: in.clientToken, Fingerprint: in.fingerprint,
			FlowLogIDs: ids, Failed: failed, Time: now})
	}
	if len(ids) > 0 || in.clientToken != "" {
		if err := r.commitLocked(logs, tokens, r.rtags); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		s.log.Info("flow log created", "flow_log_id", id, "resource_id", logs[id].ResourceID, "destination", logs[id].LogDestination)
	}
	return reply(ids, failed), nil
}

type destOptionsXML struct {
	FileFormat               string `xml:"fileFormat"`
	HiveCompatiblePartitions bool   `xml:"hiveCompatiblePartitions"`
	PerHourPartition         bool   `xml:"perHourPartition"`
}

type flowLogXML struct {
	CreationTime             string           `xml:"creationTime"`
	DeliverLogsErrorMessage  string           `xml:"deliverLogsErrorMessage,omitempty"`
	DeliverLogsPermissionArn string           `xml:"deliverLogsPermissionArn,omitempty"`
	DeliverCrossAccountRole  string           `xml:"deliverCrossAccountRole,omitempty"`
	DeliverLogsStatus        string           `xml:"deliverLogsStatus"`
	FlowLogID                string           `xml:"flowLogId"`
	FlowLogStatus            string           `xml:"flowLogStatus"`
	LogGroupName             string           `xml:"logGroupName,omitempty"`
	ResourceID               string           `xml:"resourceId"`
	TrafficType              string           `xml:"trafficType,omitempty"`
	LogDestinationType       string           `xml:"logDestinationType"`
	LogDestination           string           `xml:"logDestination"`
	LogFormat                string           `xml:"logFormat"`
	TagSet                   itemList[tagXML] `xml:"tagSet"`
	MaxAggregationInterval   int              `xml:"maxAggregationInterval"`
	DestinationOptions       *destOptionsXML  `xml:"destinationOptions,omitempty"`
}

type describeFlowLogsResponse struct {
	respMeta
	FlowLogSet itemList[flowLogXML] `xml:"flowLogSet"`
	NextToken  string               `xml:"nextToken,omitempty"`
}

var flowLogFilters = filterSet[FlowLog]{
	"deliver-log-status":   func(f *FlowLog) []string { return []string{f.DeliverLogsStatus} },
	"log-destination-type": func(f *FlowLog) []string { return []string{f.LogDestinationType} },
	"flow-log-id":          func(f *FlowLog) []string { return []string{f.ID} },
	"log-group-name": func(f *FlowLog) []string {
		if f.LogGroupName == "" {
			return nil
		}
		return []string{f.LogGroupName}
	},
	"resource-id":  func(f *FlowLog) []string { return []string{f.ResourceID} },
	"traffic-type": func(f *FlowLog) []string { return []string{f.TrafficType} },
}

func flowLogTagsOf(f *FlowLog) []Tag { return f.Tags }

func (s *Service) describeFlowLogs(rq *request) (response, error) {
	ids := rq.p.list("FlowLogId")
	if len(ids) > 1000 {
		return nil, invalidParameter("The number of flow log ids exceeds the maximum of 1000")
	}
	m, err := compile(rq.p.filters(), flowLogFilters, flowLogTagsOf)
	if err != nil {
		return nil, err
	}
	max, err := maxResults(rq.p, true)
	if err != nil {
		return nil, err
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var all []FlowLog
	for _, fl := range s.FlowLogs() {
		// Unknown ids are simply absent (spec §6.3), never an error.
		if fl.Region != region || (len(ids) > 0 && !want[fl.ID]) || !m.match(&fl) {
			continue
		}
		all = append(all, fl)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].ID < all[b].ID })
	pg, next, err := page(all, func(f *FlowLog) string { return f.ID }, "ec2-flowlogs", rq.p.get("NextToken"), max)
	if err != nil {
		return nil, err
	}
	out := &describeFlowLogsResponse{FlowLogSet: itemList[flowLogXML]{Items: []flowLogXML{}}, NextToken: next}
	for _, f := range pg {
		x := flowLogXML{CreationTime: timestamp(f.CreationTime), DeliverLogsPermissionArn: f.DeliverLogsPermissionArn,
			DeliverCrossAccountRole: f.DeliverCrossAccountRole, DeliverLogsStatus: f.DeliverLogsStatus, FlowLogID: f.ID,
			FlowLogStatus: "ACTIVE", LogGroupName: f.LogGroupName, ResourceID: f.ResourceID, TrafficType: f.TrafficType,
			LogDestinationType: f.LogDestinationType, LogDestination: f.LogDestination, LogFormat: f.LogFormat.String(),
			TagSet: tagsXML(f.Tags), MaxAggregationInterval: f.MaxAggregationInterval}
		if f.DeliverLogsStatus == StatusFailed {
			x.DeliverLogsErrorMessage = f.DeliverLogsErrorMessage
		}
		if o := f.DestinationOptions; o != nil {
			x.DestinationOptions = &destOptionsXML{o.FileFormat, o.HiveCompatiblePartitions, o.PerHourPartition}
		}
		out.FlowLogSet.Items = append(out.FlowLogSet.Items, x)
	}
	return out, nil
}

type deleteFlowLogsResponse struct {
	respMeta
	Unsuccessful itemList[unsuccessfulXML] `xml:"unsuccessful"`
}

func (s *Service) deleteFlowLogs(rq *request) (response, error) {
	ids := rq.p.list("FlowLogId")
	if len(ids) == 0 {
		return nil, missingParameter("FlowLogId")
	}
	if len(ids) > 1000 {
		return nil, invalidParameter("The number of flow log ids exceeds the maximum of 1000")
	}
	for _, id := range ids {
		if id == "" {
			return nil, invalidValue("1 validation error detected: Value null at 'flowLogId' has an invalid format")
		}
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	logs := r.copyLogsLocked()
	var failed []unsuccessful
	deleted := 0
	for _, id := range ids {
		fl, ok := logs[id]
		if !ok || fl.Region != region {
			failed = append(failed, unsuccessful{ResourceID: id, Code: "InvalidFlowLogId.NotFound",
				Message: "These flow log ids in the input list are not found: [TotalCount: 1] " + id})
			continue
		}
		delete(logs, id)
		deleted++
	}
	if deleted > 0 {
		if err := r.commitLocked(logs, r.tokens, r.rtags); err != nil {
			return nil, err
		}
	}
	return &deleteFlowLogsResponse{Unsuccessful: unsuccessfulList(failed)}, nil
}

type returnResponse struct {
	respMeta
	Return bool `xml:"return"`
}

// createTags and deleteTags change the tags of flow logs and of inventory
// resources (whose derived Name tag a user's Name tag overrides).
func (s *Service) createTags(rq *request) (response, error) {
	return s.changeTags(rq, true)
}

func (s *Service) deleteTags(rq *request) (response, error) {
	return s.changeTags(rq, false)
}

func (s *Service) changeTags(rq *request, create bool) (response, error) {
	ids := rq.p.list("ResourceId")
	if len(ids) == 0 {
		return nil, missingParameter("ResourceId")
	}
	tags := rq.p.tags("Tag")
	if create {
		if len(tags) == 0 {
			return nil, missingParameter("Tag")
		}
		if err := validateTags(tags); err != nil {
			return nil, err
		}
	}
	// DeleteTags removes a tag whatever its value unless Value is sent
	// (an empty Value deletes only a tag whose value is empty).
	valueGiven := map[int]bool{}
	for k, n := range rq.p.indexes("Tag") {
		if _, ok := rq.p.str(fmt.Sprintf("Tag.%d.Value", n)); ok {
			valueGiven[k] = true
		}
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	// change applies the request to one resource's tags.
	change := func(cur []Tag) ([]Tag, error) {
		cur = slices.Clone(cur)
		if create {
			for _, t := range tags {
				if i := slices.IndexFunc(cur, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
					cur[i].Value = t.Value
				} else {
					cur = append(cur, t)
				}
			}
			if len(cur) > 50 {
				return nil, ec2Error(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags per resource is 50")
			}
			return cur, nil
		}
		if len(tags) == 0 {
			return nil, nil
		}
		return slices.DeleteFunc(cur, func(x Tag) bool {
			for k, t := range tags {
				if t.Key == x.Key && (!valueGiven[k] || t.Value == x.Value) {
					return true
				}
			}
			return false
		}), nil
	}
	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	logs := r.copyLogsLocked()
	rtags := make(map[string][]Tag, len(r.rtags)+len(ids))
	for k, v := range r.rtags {
		rtags[k] = v
	}
	for _, id := range ids {
		fl, ok := logs[id]
		if ok && fl.Region == region {
			t, err := change(fl.Tags)
			if err != nil {
				return nil, err
			}
			fl.Tags = t
			continue
		}
		switch {
		case strings.HasPrefix(id, "fl-"):
			return nil, ec2Error(http.StatusBadRequest, "InvalidFlowLogId.NotFound", "The flow log ID '%s' does not exist", id)
		case s.inRegion(rq) && s.inv.Exists(id):
			// Inventory resources keep the user's tags beside the ones
			// derived from the host.
			t, err := change(rtags[id])
			if err != nil {
				return nil, err
			}
			if len(t) == 0 {
				delete(rtags, id)
			} else {
				rtags[id] = t
			}
		default:
			return nil, ec2Error(http.StatusBadRequest, "InvalidID", "The ID '%s' is not valid", id)
		}
	}
	if err := r.commitLocked(logs, r.tokens, rtags); err != nil {
		return nil, err
	}
	return &returnResponse{Return: true}, nil
}
