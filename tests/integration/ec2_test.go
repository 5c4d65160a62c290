package integration

import (
	"regexp"
	"testing"
)

// The EC2 side of flowwatch serve with the unmodified aws CLI and boto3:
// the inventory of this host (instances, interfaces, subnets, the VPC) and
// flow logs on them.

const (
	itVPC      = "vpc-0a1b2c3d4e5f67890"
	itInstance = "i-0123456789abcdef0"
	itRole     = "arn:aws:iam::000000000000:role/flowlogsRole"
)

var ec2Flags = []string{"--vpc-id", itVPC, "--instance-id", itInstance}

// list returns out[key] as a list of objects.
func list(t *testing.T, out map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := out[key].([]any)
	if !ok {
		t.Fatalf("no list %s in %v", key, out)
	}
	var l []map[string]any
	for _, x := range raw {
		l = append(l, x.(map[string]any))
	}
	return l
}

func TestEC2CLI(t *testing.T) {
	t.Parallel() // own server and client environment; nothing shared
	needCLI(t)
	srv := startServerWith(t, "", ec2Flags, nil)
	c := cli(t, srv, "ec2")

	vpcs := list(t, c.ok("describe-vpcs"), "Vpcs")
	if len(vpcs) != 1 || vpcs[0]["VpcId"] != itVPC || vpcs[0]["State"] != "available" || vpcs[0]["OwnerId"] != "000000000000" {
		t.Fatalf("vpcs %v", vpcs)
	}
	c.fails("InvalidVpcID.NotFound", "The vpc ID 'vpc-00000000000000000' does not exist", "describe-vpcs", "--vpc-ids", "vpc-00000000000000000")
	insts := list(t, c.ok("describe-instances"), "Reservations")
	if len(insts) != 1 {
		t.Fatalf("reservations %v", insts)
	}
	inst := list(t, insts[0], "Instances")[0]
	if inst["InstanceId"] != itInstance || inst["VpcId"] != itVPC || inst["State"].(map[string]any)["Name"] != "running" {
		t.Fatalf("instance %v", inst)
	}

	enis := list(t, c.ok("describe-network-interfaces"), "NetworkInterfaces")
	for _, e := range enis {
		if !regexp.MustCompile(`^eni-[0-9a-f]{17}$`).MatchString(e["NetworkInterfaceId"].(string)) || e["VpcId"] != itVPC ||
			e["Attachment"].(map[string]any)["InstanceId"] != itInstance {
			t.Fatalf("interface %v", e)
		}
	}
	if len(enis) > 0 {
		e := enis[0]
		ip := e["PrivateIpAddress"]
		if ip == nil {
			ip = list(t, e, "Ipv6Addresses")[0]["Ipv6Address"]
		}
		filter := "Name=addresses.private-ip-address,Values=" + ip.(string)
		if _, v4 := e["PrivateIpAddress"].(string); !v4 {
			filter = "Name=ipv6-addresses.ipv6-address,Values=" + ip.(string)
		}
		got := list(t, c.ok("describe-network-interfaces", "--filters", filter, "Name=vpc-id,Values="+itVPC), "NetworkInterfaces")
		if len(got) != 1 || got[0]["NetworkInterfaceId"] != e["NetworkInterfaceId"] {
			t.Fatalf("by address %s: %v", ip, got)
		}
		got = list(t, c.ok("describe-network-interfaces", "--filters", "Name=attachment.instance-id,Values="+itInstance,
			"Name=subnet-id,Values="+e["SubnetId"].(string)), "NetworkInterfaces")
		if len(got) == 0 {
			t.Fatal("no interface in its own subnet")
		}
		subnets := list(t, c.ok("describe-subnets", "--subnet-ids", e["SubnetId"].(string)), "Subnets")
		if len(subnets) != 1 || subnets[0]["VpcId"] != itVPC {
			t.Fatalf("subnet %v", subnets)
		}
		none := list(t, c.ok("describe-network-interfaces", "--filters", "Name=mac-address,Values=00:00:5e:00:53:00"), "NetworkInterfaces")
		if len(none) != 0 {
			t.Fatalf("unknown MAC matched %v", none)
		}
	} else {
		t.Log("this host has no addressed non-loopback interface: interface checks skipped")
	}
	c.fails("InvalidParameterValue", "The filter 'colour' is invalid", "describe-network-interfaces", "--filters", "Name=colour,Values=red")
	// The hosts are in --region (us-east-1); other regions have none.
	if other := list(t, c.ok("describe-network-interfaces", "--region", "eu-west-1"), "NetworkInterfaces"); len(other) != 0 {
		t.Fatalf("eu-west-1 lists %v", other)
	}

	// Flow logs.
	create := []string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", itVPC, "--traffic-type", "ALL",
		"--log-group-name", "/flowwatch/vpc", "--deliver-logs-permission-arn", itRole, "--max-aggregation-interval", "60",
		"--tag-specifications", "ResourceType=vpc-flow-log,Tags=[{Key=Name,Value=demo}]"}
	out := c.ok(create...)
	ids, _ := out["FlowLogIds"].([]any)
	if len(ids) != 1 || len(list(t, out, "Unsuccessful")) != 0 || out["ClientToken"] == "" {
		t.Fatalf("create: %v", out)
	}
	vpcFlowLog := ids[0].(string)
	if !regexp.MustCompile(`^fl-[0-9a-f]{17}$`).MatchString(vpcFlowLog) {
		t.Fatalf("flow log id %s", vpcFlowLog)
	}
	dup := list(t, c.ok(create...), "Unsuccessful")
	if len(dup) != 1 || dup[0]["Error"].(map[string]any)["Code"] != "FlowLogAlreadyExists" || dup[0]["ResourceId"] != itVPC {
		t.Fatalf("duplicate: %v", dup)
	}
	missing := c.ok("create-flow-logs", "--resource-type", "VPC", "--resource-ids", "vpc-00000000000000000", "--traffic-type", "ALL",
		"--log-group-name", "/flowwatch/vpc", "--deliver-logs-permission-arn", itRole)
	if u := list(t, missing, "Unsuccessful"); len(u) != 1 || u[0]["Error"].(map[string]any)["Code"] != "InvalidVpcID.NotFound" ||
		u[0]["Error"].(map[string]any)["Message"] != "The vpc ID 'vpc-00000000000000000' does not exist" || len(missing["FlowLogIds"].([]any)) != 0 {
		t.Fatalf("unknown vpc: %v", missing)
	}
	c.fails("InvalidParameter", "Invalid Flow Log Max Aggregation Interval", "create-flow-logs", "--resource-type", "VPC", "--resource-ids", itVPC,
		"--traffic-type", "ALL", "--log-group-name", "g", "--deliver-logs-permission-arn", itRole, "--max-aggregation-interval", "120")
	c.fails("InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided.", "create-flow-logs", "--resource-type", "VPC",
		"--resource-ids", itVPC, "--traffic-type", "ALL", "--log-destination-type", "s3")
	c.fails("InvalidParameter", "DeliverLogsPermissionArn is not applicable for s3 delivery", "create-flow-logs", "--resource-type", "VPC",
		"--resource-ids", itVPC, "--traffic-type", "ALL", "--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::flow-bucket",
		"--deliver-logs-permission-arn", itRole)
	c.fails("InvalidParameterValue", "1 validation error detected: Value '${version} ${srcaddr} ${colour}' at 'logFormat' has an invalid format",
		"create-flow-logs", "--resource-type", "VPC", "--resource-ids", itVPC, "--traffic-type", "ALL", "--log-group-name", "g",
		"--deliver-logs-permission-arn", itRole, "--log-format", "${version} ${srcaddr} ${colour}")
	c.fails("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", "create-flow-logs", "--dry-run", "--resource-type", "VPC",
		"--resource-ids", itVPC, "--traffic-type", "REJECT", "--log-group-name", "g", "--deliver-logs-permission-arn", itRole)

	format := "${account-id} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${srcport} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${start} ${end} ${flow-direction} ${traffic-path} ${tcp-flags} ${pkt-srcaddr} ${pkt-src-aws-service} ${pkt-dstaddr} ${pkt-dst-aws-service} ${region} ${az-id} ${sublocation-type} ${sublocation-id}"
	s3 := c.ok("create-flow-logs", "--resource-type", "VPC", "--resource-ids", itVPC, "--traffic-type", "REJECT",
		"--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::flow-log-bucket/custom/", "--log-format", format,
		"--destination-options", "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true")
	s3ID := s3["FlowLogIds"].([]any)[0].(string)

	fls := list(t, c.ok("describe-flow-logs", "--filter", "Name=resource-id,Values="+itVPC, "Name=log-destination-type,Values=cloud-watch-logs"), "FlowLogs")
	if len(fls) != 1 {
		t.Fatalf("describe: %v", fls)
	}
	fl := fls[0]
	for k, want := range map[string]any{"FlowLogId": vpcFlowLog, "ResourceId": itVPC, "TrafficType": "ALL", "LogGroupName": "/flowwatch/vpc",
		"LogDestinationType": "cloud-watch-logs", "LogDestination": "arn:aws:logs:us-east-1:000000000000:log-group:/flowwatch/vpc",
		"DeliverLogsPermissionArn": itRole, "DeliverLogsStatus": "SUCCESS", "FlowLogStatus": "ACTIVE", "MaxAggregationInterval": 60.0,
		"LogFormat": "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"} {
		if fl[k] != want {
			t.Errorf("%s = %v, want %v", k, fl[k], want)
		}
	}
	if tags := list(t, fl, "Tags"); len(tags) != 1 || tags[0]["Key"] != "Name" || tags[0]["Value"] != "demo" {
		t.Errorf("tags %v", tags)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}`).MatchString(fl["CreationTime"].(string)) {
		t.Errorf("creation time %v", fl["CreationTime"])
	}
	p := list(t, c.ok("describe-flow-logs", "--flow-log-ids", s3ID, "fl-00000000000000000"), "FlowLogs")
	if len(p) != 1 || p[0]["LogFormat"] != format || p[0]["LogDestination"] != "arn:aws:s3:::flow-log-bucket/custom/" || p[0]["MaxAggregationInterval"] != 600.0 {
		t.Fatalf("s3 flow log %v", p)
	}
	if o := p[0]["DestinationOptions"].(map[string]any); o["FileFormat"] != "parquet" || o["HiveCompatiblePartitions"] != true || o["PerHourPartition"] != true {
		t.Fatalf("destination options %v", o)
	}
	if got := list(t, c.ok("describe-flow-logs", "--filter", "Name=tag:Name,Values=demo"), "FlowLogs"); len(got) != 1 || got[0]["FlowLogId"] != vpcFlowLog {
		t.Fatalf("by tag %v", got)
	}
	c.fails("InvalidParameterValue", "The filter 'colour' is invalid", "describe-flow-logs", "--filter", "Name=colour,Values=red")

	// Acknowledged flow logs survive kill -9.
	srv.kill()
	srv = startServerWith(t, srv.DataDir, ec2Flags, nil)
	c.url = srv.URL
	if got := list(t, c.ok("describe-flow-logs"), "FlowLogs"); len(got) != 2 {
		t.Fatalf("after restart: %v", got)
	}

	del := c.ok("delete-flow-logs", "--flow-log-ids", vpcFlowLog, s3ID)
	if u := list(t, del, "Unsuccessful"); len(u) != 0 {
		t.Fatalf("delete: %v", del)
	}
	del = c.ok("delete-flow-logs", "--flow-log-ids", vpcFlowLog)
	if u := list(t, del, "Unsuccessful"); len(u) != 1 || u[0]["ResourceId"] != vpcFlowLog || u[0]["Error"].(map[string]any)["Code"] != "InvalidFlowLogId.NotFound" {
		t.Fatalf("delete again: %v", del)
	}
	if got := list(t, c.ok("describe-flow-logs"), "FlowLogs"); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}

	bad := cliAs(t, srv, "ec2", accessKey, "not-the-secret")
	bad.fails("SignatureDoesNotMatch", "signature", "describe-vpcs")
	unknown := cliAs(t, srv, "ec2", "AKIAUNKNOWN000000000", secretKey)
	unknown.fails("AuthFailure", "AWS was not able to validate the provided access credentials", "describe-vpcs")
}

func TestEC2Boto3(t *testing.T) {
	t.Parallel() // own server and client environment; nothing shared
	needBoto3(t)
	runPy(t, startServerWith(t, "", ec2Flags, nil), "ec2_flowlogs.py", "boto3 ec2: all checks passed", itVPC, itInstance)
}
