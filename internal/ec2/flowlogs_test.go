package ec2

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

var flID = regexp.MustCompile(`^fl-[0-9a-f]{17}$`)

func TestCreateDescribeDeleteFlowLog(t *testing.T) {
	f := newFixture(t)
	args := append(cwl("VPC", "ALL", "/flowwatch/vpc", testVPC), "MaxAggregationInterval", "60",
		"TagSpecification.1.ResourceType", "vpc-flow-log", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "demo")
	body := f.ok(nil, args...)
	// The wire shape: namespace, requestId first, empty <unsuccessful>.
	for _, want := range []string{`<CreateFlowLogsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>`, "<unsuccessful></unsuccessful>"} {
		if !strings.Contains(body, want) {
			t.Fatalf("response lacks %s:\n%s", want, body)
		}
	}
	c := f.create(args...)
	if len(c.IDs) != 0 || len(c.Unsuccessful) != 1 || c.Unsuccessful[0].Code != "FlowLogAlreadyExists" ||
		c.Unsuccessful[0].Message != "Error. There is an existing Flow Log with the same configuration and log destination." || c.Unsuccessful[0].ResourceID != testVPC {
		t.Fatalf("duplicate: %+v", c)
	}
	if c.ClientToken == "" {
		t.Fatal("no clientToken generated")
	}

	d := f.describe()
	if len(d.FlowLogs) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	fl := d.FlowLogs[0]
	want := xFlowLog{FlowLogID: fl.FlowLogID, CreationTime: "2026-03-04T05:06:07.891Z", ResourceID: testVPC, TrafficType: "ALL",
		LogGroupName: "/flowwatch/vpc", LogDestination: "arn:aws:logs:us-east-1:000000000000:log-group:/flowwatch/vpc",
		LogDestinationType: "cloud-watch-logs", LogFormat: flowlog.DefaultFormatString,
		DeliverLogsPermissionArn: "arn:aws:iam::000000000000:role/flowlogsRole", DeliverLogsStatus: "SUCCESS", FlowLogStatus: "ACTIVE",
		MaxAggregationInterval: 60, Tags: []xTag{{"Name", "demo"}}}
	if !flID.MatchString(fl.FlowLogID) || fmt.Sprint(fl) != fmt.Sprint(want) {
		t.Fatalf("flow log\n got %+v\nwant %+v", fl, want)
	}

	// The registry API delivery uses.
	all := f.svc.FlowLogs()
	if len(all) != 1 || all[0].ID != fl.FlowLogID || all[0].LogFormat != flowlog.DefaultFormat && all[0].LogFormat.String() != flowlog.DefaultFormatString ||
		all[0].ARN() != "arn:aws:ec2:us-east-1:000000000000:vpc-flow-log/"+fl.FlowLogID || len(f.svc.InterfacesUnder(all[0].ResourceID)) != 3 {
		t.Fatalf("registry: %+v", all)
	}

	var del xDelete
	body = f.ok(&del, "Action", "DeleteFlowLogs", "FlowLogId.1", fl.FlowLogID, "FlowLogId.2", "fl-00000000000000000")
	if len(del.Unsuccessful) != 1 || del.Unsuccessful[0].ResourceID != "fl-00000000000000000" || del.Unsuccessful[0].Code != "InvalidFlowLogId.NotFound" {
		t.Fatalf("delete: %s", body)
	}
	if d := f.describe(); len(d.FlowLogs) != 0 {
		t.Fatalf("deleted flow log still described: %+v", d)
	}
	// Deleting again: per-id failure, HTTP 200.
	del = xDelete{}
	f.ok(&del, "Action", "DeleteFlowLogs", "FlowLogId.1", fl.FlowLogID)
	if len(del.Unsuccessful) != 1 {
		t.Fatalf("second delete: %+v", del)
	}
}

func TestCreateFlowLogsPerResourceFailures(t *testing.T) {
	f := newFixture(t)
	c := f.create(cwl("NetworkInterface", "REJECT", "g", f.eth0.ID, "eni-00000000000000000", f.ens5.ID, f.eth0.ID)...)
	if len(c.IDs) != 2 || len(c.Unsuccessful) != 2 {
		t.Fatalf("%+v", c)
	}
	if u := c.Unsuccessful[0]; u.Code != "InvalidNetworkInterfaceID.NotFound" || u.Message != "The networkInterface ID 'eni-00000000000000000' does not exist" {
		t.Fatalf("missing eni: %+v", u)
	}
	if u := c.Unsuccessful[1]; u.Code != "FlowLogAlreadyExists" || u.ResourceID != f.eth0.ID {
		t.Fatalf("repeated eni: %+v", u)
	}
	c = f.create(cwl("VPC", "ALL", "g", "vpc-00000000000000000")...)
	if len(c.IDs) != 0 || c.Unsuccessful[0].Code != "InvalidVpcID.NotFound" || c.Unsuccessful[0].Message != "The vpc ID 'vpc-00000000000000000' does not exist" {
		t.Fatalf("missing vpc: %+v", c)
	}
	c = f.create(cwl("Subnet", "ACCEPT", "g", f.eth0.SubnetID, "subnet-00000000000000000")...)
	if len(c.IDs) != 1 || c.Unsuccessful[0].Code != "InvalidSubnetID.NotFound" {
		t.Fatalf("subnets: %+v", c)
	}
	// Same resource and group, other traffic type: a different flow log.
	// Same everything but another group: also different.
	for _, args := range [][]string{cwl("NetworkInterface", "ALL", "g", f.eth0.ID), cwl("NetworkInterface", "REJECT", "other", f.eth0.ID)} {
		if c := f.create(args...); len(c.IDs) != 1 {
			t.Fatalf("%v: %+v", args, c)
		}
	}
	// The VPC exists only in the inventory's region.
	code, body := f.callIn("eu-west-1", cwl("VPC", "ALL", "g", testVPC)...)
	if code != 200 || !strings.Contains(body, "InvalidVpcID.NotFound") {
		t.Fatalf("other region: %d %s", code, body)
	}
	if n := len(f.describe().FlowLogs); n != 5 {
		t.Fatalf("%d flow logs, want 5", n)
	}
}

func TestCreateFlowLogsValidation(t *testing.T) {
	f := newFixture(t)
	role := "arn:aws:iam::000000000000:role/flowlogsRole"
	base := func(kv ...string) []string {
		return append([]string{"Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", testVPC, "TrafficType", "ALL"}, kv...)
	}
	cases := []struct {
		name, code, msg string
		args            []string
	}{
		{"no resource type", "MissingParameter", "The request must contain the parameter ResourceType",
			[]string{"Action", "CreateFlowLogs", "ResourceId.1", testVPC, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"no resource ids", "MissingParameter", "ResourceId",
			[]string{"Action", "CreateFlowLogs", "ResourceType", "VPC", "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"bad resource type", "InvalidParameterValue", "Invalid value 'Vpc' for ResourceType",
			[]string{"Action", "CreateFlowLogs", "ResourceType", "Vpc", "ResourceId.1", testVPC, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"id of another type", "InvalidParameter", "Invalid Resource id subnet-0123abcd for resource-type VPC",
			[]string{"Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", "subnet-0123abcd", "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"no traffic type", "MissingParameter", "TrafficType",
			[]string{"Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", testVPC, "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"bad traffic type", "InvalidParameterValue", "Invalid value 'all' for TrafficType",
			[]string{"Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", testVPC, "TrafficType", "all", "LogGroupName", "g", "DeliverLogsPermissionArn", role}},
		{"no destination", "InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided.", base("DeliverLogsPermissionArn", role)},
		{"cwl without role", "InvalidParameter", "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.", base("LogGroupName", "g")},
		{"s3 without destination", "InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided.", base("LogDestinationType", "s3")},
		{"s3 with group", "InvalidParameter", "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
			base("LogDestinationType", "s3", "LogGroupName", "g", "LogDestination", "arn:aws:s3:::bucket")},
		{"s3 with role", "InvalidParameter", "DeliverLogsPermissionArn is not applicable for s3 delivery",
			base("LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::bucket", "DeliverLogsPermissionArn", role)},
		{"s3 bad arn", "InvalidParameter", "Invalid LogDestination", base("LogDestinationType", "s3", "LogDestination", "bucket")},
		{"s3 AWSLogs prefix", "InvalidParameter", "AWSLogs", base("LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::bucket/AWSLogs/")},
		{"bad destination type", "InvalidParameterValue", "LogDestinationType", base("LogDestinationType", "S3", "LogDestination", "arn:aws:s3:::bucket")},
		{"group arn elsewhere", "InvalidParameter", "LogDestination must be in the same region as the API caller.",
			base("LogDestination", "arn:aws:logs:eu-west-1:000000000000:log-group:g", "DeliverLogsPermissionArn", role)},
		{"group and other arn", "InvalidParameter", "Please only provide LogGroupName or only provide LogDestination.",
			base("LogGroupName", "a", "LogDestination", "arn:aws:logs:us-east-1:000000000000:log-group:b", "DeliverLogsPermissionArn", role)},
		{"interval", "InvalidParameter", "Invalid Flow Log Max Aggregation Interval",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "MaxAggregationInterval", "300")},
		{"interval not a number", "InvalidParameterValue", "MaxAggregationInterval",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "MaxAggregationInterval", "ten")},
		{"unknown field", "InvalidParameterValue", "1 validation error detected: Value '${version} ${foo}' at 'logFormat' has an invalid format",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "LogFormat", "${version} ${foo}")},
		{"trailing space", "InvalidParameterValue", "Value '${version} ' at 'logFormat' has an invalid format",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "LogFormat", "${version} ")},
		{"tgw field on a vpc", "InvalidParameterValue", "at 'logFormat' has an invalid format",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "LogFormat", "${version} ${resource-type}")},
		{"options for cwl", "InvalidParameter", "DestinationOptions",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "DestinationOptions.FileFormat", "parquet")},
		{"bad file format", "InvalidParameterValue", "FileFormat",
			base("LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::bucket", "DestinationOptions.FileFormat", "csv")},
		{"tag resource type", "InvalidParameterValue", "'vpc' is not a valid taggable resource type for this operation.",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "k")},
		{"aws: tag", "InvalidParameterValue", "reserved",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "TagSpecification.1.ResourceType", "vpc-flow-log", "TagSpecification.1.Tag.1.Key", "aws:x")},
		{"long tag key", "InvalidParameterValue", "127",
			base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "TagSpecification.1.ResourceType", "vpc-flow-log", "TagSpecification.1.Tag.1.Key", strings.Repeat("k", 128))},
		{"bad role", "InvalidParameter", "role ARN", base("LogGroupName", "g", "DeliverLogsPermissionArn", "flowlogsRole")},
		{"bad DryRun", "InvalidParameterValue", "DryRun", base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "DryRun", "yes")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			f.fails(400, c.code, c.msg, c.args...)
		})
	}
	f.t = t
	f.fails(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", base("LogGroupName", "g", "DeliverLogsPermissionArn", role, "DryRun", "true")...)
	// A rejected request changes nothing.
	if n := len(f.svc.FlowLogs()); n != 0 {
		t.Fatalf("%d flow logs after rejected requests", n)
	}
	if _, err := os.Stat(filepath.Join(f.dir, registryName)); err == nil {
		t.Fatal("rejected requests wrote the registry")
	}
}

func TestCreateFlowLogsS3AndCustomFormat(t *testing.T) {
	f := newFixture(t)
	format := flowlog.KnowledgeCenterFormatString
	c := f.create("Action", "CreateFlowLogs", "ResourceType", "Subnet", "ResourceId.1", f.eth0.SubnetID, "TrafficType", "REJECT",
		"LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::flow-log-bucket/custom/", "LogFormat", format,
		"DestinationOptions.FileFormat", "parquet", "DestinationOptions.HiveCompatiblePartitions", "true", "DestinationOptions.PerHourPartition", "true")
	if len(c.IDs) != 1 {
		t.Fatalf("%+v", c)
	}
	// A second S3 flow log without options gets AWS's defaults echoed.
	c2 := f.create("Action", "CreateFlowLogs", "ResourceType", "NetworkInterface", "ResourceId.1", f.eth1.ID, "TrafficType", "ALL",
		"LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::flow-log-bucket")
	d := f.describe("FlowLogId.1", c.IDs[0], "FlowLogId.2", c2.IDs[0], "FlowLogId.3", "fl-00000000000000000")
	if len(d.FlowLogs) != 2 {
		t.Fatalf("%+v", d)
	}
	byID := map[string]xFlowLog{d.FlowLogs[0].FlowLogID: d.FlowLogs[0], d.FlowLogs[1].FlowLogID: d.FlowLogs[1]}
	p := byID[c.IDs[0]]
	if p.LogFormat != format || p.LogGroupName != "" || p.DeliverLogsPermissionArn != "" || p.LogDestination != "arn:aws:s3:::flow-log-bucket/custom/" ||
		p.DestinationOptions == nil || p.DestinationOptions.FileFormat != "parquet" || !p.DestinationOptions.HiveCompatiblePartitions ||
		!p.DestinationOptions.PerHourPartition || p.MaxAggregationInterval != 600 {
		t.Fatalf("parquet flow log %+v", p)
	}
	if o := byID[c2.IDs[0]].DestinationOptions; o == nil || o.FileFormat != "plain-text" || o.HiveCompatiblePartitions || o.PerHourPartition {
		t.Fatalf("default options %+v", o)
	}
	reg, _ := f.svc.FlowLog(c.IDs[0])
	if reg.LogFormat.Version() != 5 || reg.LogFormat.Len() != 27 || reg.ResourceType != "Subnet" || len(f.svc.InterfacesUnder(reg.ResourceID)) != 2 {
		t.Fatalf("registry: %+v", reg)
	}
}

func TestDescribeFlowLogsFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	f.create(cwl("VPC", "ALL", "/vpc", testVPC)...)
	f.create(append(cwl("NetworkInterface", "REJECT", "/eni", f.eth0.ID, f.eth1.ID, f.ens5.ID),
		"TagSpecification.1.ResourceType", "vpc-flow-log", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "net")...)
	f.create("Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", testVPC, "TrafficType", "ACCEPT",
		"LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::bucket")
	count := func(kv ...string) int { return len(f.describe(kv...).FlowLogs) }
	for _, c := range []struct {
		want int
		kv   []string
	}{
		{5, nil},
		{2, []string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", testVPC}},
		{3, []string{"Filter.1.Name", "traffic-type", "Filter.1.Value.1", "REJECT"}},
		{4, []string{"Filter.1.Name", "traffic-type", "Filter.1.Value.1", "REJECT", "Filter.1.Value.2", "ALL"}},
		{1, []string{"Filter.1.Name", "log-destination-type", "Filter.1.Value.1", "s3"}},
		{1, []string{"Filter.1.Name", "log-group-name", "Filter.1.Value.1", "/vpc"}},
		{4, []string{"Filter.1.Name", "log-group-name", "Filter.1.Value.1", "/*"}},
		{3, []string{"Filter.1.Name", "tag:team", "Filter.1.Value.1", "net"}},
		{0, []string{"Filter.1.Name", "tag:team", "Filter.1.Value.1", "NET"}},
		{3, []string{"Filter.1.Name", "tag-key", "Filter.1.Value.1", "team"}},
		{5, []string{"Filter.1.Name", "deliver-log-status", "Filter.1.Value.1", "SUCCESS"}},
		{1, []string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", f.eth0.ID, "Filter.2.Name", "traffic-type", "Filter.2.Value.1", "REJECT"}},
		{0, []string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", f.eth0.ID, "Filter.2.Name", "traffic-type", "Filter.2.Value.1", "ALL"}},
	} {
		if got := count(c.kv...); got != c.want {
			t.Errorf("%v: %d flow logs, want %d", c.kv, got, c.want)
		}
	}
	f.fails(400, "InvalidParameterValue", "The filter 'colour' is invalid", "Action", "DescribeFlowLogs", "Filter.1.Name", "colour", "Filter.1.Value.1", "x")
	// Other regions see none of them.
	code, body := f.callIn("eu-west-1", "Action", "DescribeFlowLogs")
	if code != 200 || !strings.Contains(body, "<flowLogSet></flowLogSet>") {
		t.Fatalf("other region: %s", body)
	}

	// Delivery failure shows up and clears.
	id := f.describe("Filter.1.Name", "resource-id", "Filter.1.Value.1", f.ens5.ID).FlowLogs[0].FlowLogID
	if err := f.svc.SetDeliveryStatus(id, StatusFailed, ErrAccess); err != nil {
		t.Fatal(err)
	}
	failed := f.describe("Filter.1.Name", "deliver-log-status", "Filter.1.Value.1", "FAILED").FlowLogs
	if len(failed) != 1 || failed[0].FlowLogID != id || failed[0].DeliverLogsErrorMessage != "Access error" {
		t.Fatalf("failed: %+v", failed)
	}
	if err := f.svc.SetDeliveryStatus(id, StatusFailed, "Unknown LogGroup"); err == nil {
		t.Fatal("an undocumented error message was accepted")
	}
	if err := f.svc.SetDeliveryStatus("fl-00000000000000000", StatusSuccess, ""); err != ErrNoFlowLog {
		t.Fatalf("unknown id: %v", err)
	}
	f.svc.SetDeliveryStatus(id, StatusSuccess, "")
	if fl := f.describe("FlowLogId.1", id).FlowLogs[0]; fl.DeliverLogsStatus != "SUCCESS" || fl.DeliverLogsErrorMessage != "" {
		t.Fatalf("recovered: %+v", fl)
	}

	// Pages of 5 or 2 (MaxResults below 5 is refused) cover everything once.
	f.fails(400, "InvalidParameterValue", "maxResults", "Action", "DescribeFlowLogs", "MaxResults", "2")
	for i := 0; i < 4; i++ {
		f.create(cwl("NetworkInterface", "ALL", fmt.Sprintf("/page/%d", i), f.eth0.ID)...)
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		kv := []string{"MaxResults", "5"}
		if token != "" {
			kv = append(kv, "NextToken", token)
		}
		d := f.describe(kv...)
		for _, fl := range d.FlowLogs {
			if seen[fl.FlowLogID] {
				t.Fatalf("%s on two pages", fl.FlowLogID)
			}
			seen[fl.FlowLogID] = true
		}
		if d.NextToken == "" {
			if pages != 1 {
				t.Fatalf("%d pages, want 2", pages+1)
			}
			break
		}
		token = d.NextToken
	}
	if len(seen) != 9 {
		t.Fatalf("paged over %d flow logs, want 9", len(seen))
	}
	f.fails(400, "InvalidNextToken", "", "Action", "DescribeFlowLogs", "NextToken", "garbage")
}

func TestFlowLogsSurviveRestartAndClientToken(t *testing.T) {
	f := newFixture(t)
	args := append(cwl("NetworkInterface", "ALL", "g", f.eth0.ID, "eni-00000000000000000"), "ClientToken", "tok-1")
	c := f.create(args...)
	if c.ClientToken != "tok-1" || len(c.IDs) != 1 {
		t.Fatalf("%+v", c)
	}
	ch, cancel := f.svc.Subscribe()
	defer cancel()
	v := f.svc.Version()

	f.open() // restart
	// A retry with the same token returns the same result and creates nothing.
	again := f.create(args...)
	if fmt.Sprint(again) != fmt.Sprint(c) || len(f.svc.FlowLogs()) != 1 {
		t.Fatalf("retry: %+v vs %+v", again, c)
	}
	f.fails(400, "IdempotentParameterMismatch", "inconsistent", append(cwl("NetworkInterface", "REJECT", "g", f.eth0.ID), "ClientToken", "tok-1")...)

	fl, ok := f.svc.FlowLog(c.IDs[0])
	if !ok || fl.LogFormat.String() != flowlog.DefaultFormatString || fl.ResourceType != "NetworkInterface" || fl.CreationTime.UnixMilli() != f.now.UnixMilli() {
		t.Fatalf("after restart: %+v", fl)
	}
	// The old service's subscribers are not told about the new one's
	// changes; the new one counts from zero.
	_ = ch
	_ = v
	ch2, cancel2 := f.svc.Subscribe()
	defer cancel2()
	var del xDelete
	f.ok(&del, "Action", "DeleteFlowLogs", "FlowLogId.1", c.IDs[0])
	select {
	case <-ch2:
	default:
		t.Fatal("no change notification for a delete")
	}
	f.open()
	if n := len(f.svc.FlowLogs()); n != 0 {
		t.Fatalf("deleted flow log came back after restart (%d)", n)
	}
}

func TestFlowLogTags(t *testing.T) {
	f := newFixture(t)
	id := f.create(cwl("VPC", "ALL", "g", testVPC)...).IDs[0]
	f.ok(nil, "Action", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "a", "Tag.1.Value", "1", "Tag.2.Key", "b", "Tag.2.Value", "2")
	f.ok(nil, "Action", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "a", "Tag.1.Value", "one")
	f.ok(nil, "Action", "DeleteTags", "ResourceId.1", id, "Tag.1.Key", "b", "Tag.1.Value", "not-2")
	tags := f.describe().FlowLogs[0].Tags
	if fmt.Sprint(tags) != "[{a one} {b 2}]" {
		t.Fatalf("tags %v", tags)
	}
	f.ok(nil, "Action", "DeleteTags", "ResourceId.1", id, "Tag.1.Key", "b")
	if tags := f.describe("Filter.1.Name", "tag:a", "Filter.1.Value.1", "o*").FlowLogs[0].Tags; fmt.Sprint(tags) != "[{a one}]" {
		t.Fatalf("tags %v", tags)
	}
	f.fails(400, "InvalidFlowLogId.NotFound", "fl-00000000000000000", "Action", "CreateTags", "ResourceId.1", "fl-00000000000000000", "Tag.1.Key", "a", "Tag.1.Value", "1")
	f.fails(400, "InvalidID", "The ID 'sg-0123abcd' is not valid", "Action", "CreateTags", "ResourceId.1", "sg-0123abcd", "Tag.1.Key", "a", "Tag.1.Value", "1")
}

func TestInventoryTags(t *testing.T) {
	f := newFixture(t)
	// One call tags the VPC, an interface (overriding its derived Name) and
	// an instance; the tags survive a restart and filters see them.
	f.ok(nil, "Action", "CreateTags", "ResourceId.1", testVPC, "ResourceId.2", f.eth0.ID, "ResourceId.3", f.db.ID,
		"Tag.1.Key", "Name", "Tag.1.Value", "prod", "Tag.2.Key", "team", "Tag.2.Value", "net")
	f.open()
	var vpcs struct {
		Tags []xTag `xml:"vpcSet>item>tagSet>item"`
	}
	f.ok(&vpcs, "Action", "DescribeVpcs", "Filter.1.Name", "tag:team", "Filter.1.Value.1", "net")
	if fmt.Sprint(vpcs.Tags) != "[{Name prod} {team net}]" {
		t.Fatalf("vpc tags %v", vpcs.Tags)
	}
	if got := f.enis("Filter.1.Name", "tag:Name", "Filter.1.Value.1", "prod"); len(got) != 1 || got[0] != f.eth0.ID {
		t.Fatalf("eni by user Name %v", got)
	}
	if got := f.enis("Filter.1.Name", "tag:Name", "Filter.1.Value.1", "eth1"); len(got) != 1 || got[0] != f.eth1.ID {
		t.Fatalf("untagged eni keeps its derived Name: %v", got)
	}
	var insts struct {
		IDs []string `xml:"reservationSet>item>instancesSet>item>instanceId"`
	}
	f.ok(&insts, "Action", "DescribeInstances", "Filter.1.Name", "tag:Name", "Filter.1.Value.1", "prod")
	if fmt.Sprint(insts.IDs) != "["+f.db.ID+"]" {
		t.Fatalf("instance by tag %v", insts.IDs)
	}
	f.ok(nil, "Action", "DeleteTags", "ResourceId.1", f.eth0.ID, "Tag.1.Key", "Name")
	if got := f.enis("Filter.1.Name", "tag:Name", "Filter.1.Value.1", "eth0"); len(got) != 1 {
		t.Fatalf("derived Name not back after DeleteTags: %v", got)
	}
	// Another region has no such resources.
	code, body := f.callIn("eu-west-1", "Action", "CreateTags", "ResourceId.1", testVPC, "Tag.1.Key", "a", "Tag.1.Value", "1")
	if code != 400 || !strings.Contains(body, "InvalidID") {
		t.Fatalf("other region: %d %s", code, body)
	}
}

func TestProtocolErrors(t *testing.T) {
	f := newFixture(t)
	f.fails(400, "InvalidAction", "The action RunInstances is not valid for this web service.", "Action", "RunInstances")
	f.fails(400, "MissingParameter", "Action")
	f.fails(400, "MissingParameter", "FlowLogId", "Action", "DeleteFlowLogs")
	f.fails(400, "InvalidParameterValue", "Value null at 'flowLogId'", "Action", "DeleteFlowLogs", "FlowLogId.1", "")
}

func TestCreateFlowLogsNeedsPassRole(t *testing.T) {
	f := newFixture(t)
	var asked []string
	f.svc.authz = func(info awsapi.RequestInfo, action, resource string) error {
		asked = append(asked, action+" "+resource)
		if resource == "arn:aws:iam::000000000000:role/denied" {
			return awsapi.NewError("AccessDeniedException", "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: %s on resource: %s", action, resource)
		}
		return nil
	}
	args := cwl("VPC", "ALL", "g", testVPC)
	args[len(args)-3] = "arn:aws:iam::000000000000:role/denied" // DeliverLogsPermissionArn
	f.fails(403, "UnauthorizedOperation", "You are not authorized to perform this operation. User: arn:aws:iam::000000000000:user/bob is not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role/denied", args...)
	if len(f.svc.FlowLogs()) != 0 {
		t.Fatal("a refused request created a flow log")
	}
	if c := f.create(cwl("VPC", "ALL", "g", testVPC)...); len(c.IDs) != 1 {
		t.Fatalf("%+v", c)
	}
	if fmt.Sprint(asked) != "[iam:PassRole arn:aws:iam::000000000000:role/denied iam:PassRole arn:aws:iam::000000000000:role/flowlogsRole]" {
		t.Fatalf("asked %v", asked)
	}
}

func TestLogGroupARNDestination(t *testing.T) {
	f := newFixture(t)
	role := "arn:aws:iam::000000000000:role/flowlogsRole"
	arn := "arn:aws:logs:us-east-1:000000000000:log-group:/fw/eni:*"
	c := f.create("Action", "CreateFlowLogs", "ResourceType", "NetworkInterface", "ResourceId.1", f.eth0.ID, "TrafficType", "ALL",
		"LogDestination", arn, "DeliverLogsPermissionArn", role)
	if len(c.IDs) != 1 {
		t.Fatalf("%+v", c)
	}
	// The ":*" suffix is kept verbatim (spec §4.5), in the name too.
	fl := f.describe().FlowLogs[0]
	if fl.LogDestination != arn || fl.LogGroupName != "/fw/eni:*" {
		t.Fatalf("%+v", fl)
	}
	// LogGroupName naming the same group as LogDestination is no conflict,
	// and is the same destination as the flow log above.
	c = f.create("Action", "CreateFlowLogs", "ResourceType", "NetworkInterface", "ResourceId.1", f.eth0.ID, "TrafficType", "ALL",
		"LogDestination", arn, "LogGroupName", "/fw/eni:*", "DeliverLogsPermissionArn", role)
	if len(c.Unsuccessful) != 1 || c.Unsuccessful[0].Code != "FlowLogAlreadyExists" {
		t.Fatalf("%+v", c)
	}
	f.fails(400, "InvalidParameter", "Invalid LogDestination", "Action", "CreateFlowLogs", "ResourceType", "VPC", "ResourceId.1", testVPC,
		"TrafficType", "ALL", "LogDestination", "arn:aws:s3:::bucket", "DeliverLogsPermissionArn", role)
}

func TestDescribeTags(t *testing.T) {
	f := newFixture(t)
	id := f.create(append(cwl("VPC", "ALL", "g", testVPC), "TagSpecification.1.ResourceType", "vpc-flow-log",
		"TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "net")...).IDs[0]
	f.ok(nil, "Action", "CreateTags", "ResourceId.1", testVPC, "Tag.1.Key", "team", "Tag.1.Value", "core")
	var out struct {
		Tags []struct {
			ID    string `xml:"resourceId"`
			Type  string `xml:"resourceType"`
			Key   string `xml:"key"`
			Value string `xml:"value"`
		} `xml:"tagSet>item"`
	}
	f.ok(&out, "Action", "DescribeTags", "Filter.1.Name", "key", "Filter.1.Value.1", "team")
	if len(out.Tags) != 2 || out.Tags[0].ID != id || out.Tags[0].Type != "vpc-flow-log" || out.Tags[1].ID != testVPC || out.Tags[1].Value != "core" {
		t.Fatalf("%+v", out)
	}
	out.Tags = nil
	f.ok(&out, "Action", "DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "network-interface")
	if len(out.Tags) != 3 || out.Tags[0].Key != "Name" {
		t.Fatalf("interface tags %+v", out)
	}
	f.fails(400, "InvalidParameterValue", "The filter 'tag:team' is invalid", "Action", "DescribeTags", "Filter.1.Name", "tag:team", "Filter.1.Value.1", "x")
}
