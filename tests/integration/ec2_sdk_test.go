package integration

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	fwec2 "github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// TestEC2SDK drives the EC2 operations with aws-sdk-go-v2, whose ec2query
// codec sends lists as Name.N with %20 for spaces and reads the XML
// strictly by element name.
func TestEC2SDK(t *testing.T) {
	t.Parallel() // own server and client environment; nothing shared
	srv := startServerWith(t, "", ec2Flags, nil)
	c := ec2.New(ec2.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""), RetryMaxAttempts: 1})
	ctx := context.Background()

	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].VpcId) != itVPC || vpcs.Vpcs[0].State != ec2types.VpcStateAvailable {
		t.Fatalf("vpcs %+v", vpcs.Vpcs)
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{itInstance}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range enis.NetworkInterfaces {
		if aws.ToString(e.VpcId) != itVPC || e.Attachment == nil || e.Attachment.AttachTime == nil || e.Status != ec2types.NetworkInterfaceStatusInUse {
			t.Fatalf("interface %+v", e)
		}
	}
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{itInstance}})
	if err != nil {
		t.Fatal(err)
	}
	if in := insts.Reservations[0].Instances[0]; aws.ToString(in.InstanceId) != itInstance || in.State.Name != ec2types.InstanceStateNameRunning ||
		len(in.NetworkInterfaces) != len(enis.NetworkInterfaces) || in.LaunchTime == nil {
		t.Fatalf("instance %+v", in)
	}
	_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-00000000000000000"}})
	wantAPIError(t, err, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-00000000000000000' does not exist")

	format := "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"
	out, err := c.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeVpc, ResourceIds: []string{itVPC, "vpc-00000000000000000"},
		TrafficType: ec2types.TrafficTypeAccept, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::sdk-bucket"),
		LogFormat: aws.String(format), MaxAggregationInterval: aws.Int32(60),
		DestinationOptions: &ec2types.DestinationOptionsRequest{FileFormat: ec2types.DestinationFileFormatParquet, PerHourPartition: aws.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.FlowLogIds) != 1 || len(out.Unsuccessful) != 1 || aws.ToString(out.Unsuccessful[0].Error.Code) != "InvalidVpcID.NotFound" || aws.ToString(out.ClientToken) == "" {
		t.Fatalf("create %+v", out)
	}
	d, err := c.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("log-destination-type"), Values: []string{"s3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.FlowLogs) != 1 {
		t.Fatalf("describe %+v", d.FlowLogs)
	}
	fl := d.FlowLogs[0]
	if aws.ToString(fl.FlowLogId) != out.FlowLogIds[0] || aws.ToString(fl.LogFormat) != format || aws.ToInt32(fl.MaxAggregationInterval) != 60 ||
		fl.DestinationOptions == nil || fl.DestinationOptions.FileFormat != ec2types.DestinationFileFormatParquet || !aws.ToBool(fl.DestinationOptions.PerHourPartition) ||
		aws.ToBool(fl.DestinationOptions.HiveCompatiblePartitions) || fl.CreationTime == nil || aws.ToString(fl.DeliverLogsStatus) != "SUCCESS" {
		t.Fatalf("flow log %+v", fl)
	}
	_, err = c.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeVpc, ResourceIds: []string{itVPC},
		TrafficType: ec2types.TrafficTypeAll, LogGroupName: aws.String("g"), DeliverLogsPermissionArn: aws.String(itRole), LogFormat: aws.String("${version}  ${srcaddr}")})
	wantAPIError(t, err, "InvalidParameterValue", "at 'logFormat' has an invalid format")

	del, err := c.DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: out.FlowLogIds})
	if err != nil || len(del.Unsuccessful) != 0 {
		t.Fatalf("delete %+v %v", del, err)
	}
}

// TestEC2RegisterHost registers an agent's host over signed HTTP, as
// `flowwatch agent` does, and finds it with the SDK, also after a restart.
func TestEC2RegisterHost(t *testing.T) {
	t.Parallel() // own server and client environment; nothing shared
	srv := startServerWith(t, "", ec2Flags, nil)
	agent := inventory.HostInfo{MachineID: "it-agent", Hostname: "agent-1", NICs: []inventory.NIC{
		{Name: "ens5", Index: 2, MAC: "02:00:00:00:09:01", MTU: 9001, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.77.1.5/24")}},
	}}
	body := fwec2.RegisterHostForm(agent).Encode()
	resp, b := signedPost(t, srv.URL, "ec2", region, "application/x-www-form-urlencoded; charset=utf-8", "", body, time.Now(), secretKey)
	eni := inventory.InterfaceID(agent.ID(), "ens5", "02:00:00:00:09:01")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<networkInterfaceId>"+eni+"</networkInterfaceId>") {
		t.Fatalf("register: %d %s", resp.StatusCode, b)
	}
	for round := 0; round < 2; round++ {
		c := ec2.New(ec2.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""), RetryMaxAttempts: 1})
		out, err := c.DescribeNetworkInterfaces(context.Background(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if e := out.NetworkInterfaces[0]; aws.ToString(e.PrivateIpAddress) != "10.77.1.5" || aws.ToString(e.Attachment.InstanceId) != agent.ID() || aws.ToString(e.VpcId) != itVPC {
			t.Fatalf("round %d: %+v", round, e)
		}
		srv.stop(t)
		srv = startServerWith(t, srv.DataDir, ec2Flags, nil)
	}
}
