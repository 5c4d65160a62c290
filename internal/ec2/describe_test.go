package ec2

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

type xENI struct {
	ID          string `xml:"networkInterfaceId"`
	SubnetID    string `xml:"subnetId"`
	VpcID       string `xml:"vpcId"`
	AZ          string `xml:"availabilityZone"`
	MAC         string `xml:"macAddress"`
	PrivateIP   string `xml:"privateIpAddress"`
	PrivateDNS  string `xml:"privateDnsName"`
	Status      string `xml:"status"`
	Description string `xml:"description"`
	InstanceID  string `xml:"attachment>instanceId"`
	DeviceIndex int    `xml:"attachment>deviceIndex"`
	AttachTime  string `xml:"attachment>attachTime"`
	Addresses   []struct {
		IP      string `xml:"privateIpAddress"`
		Primary bool   `xml:"primary"`
	} `xml:"privateIpAddressesSet>item"`
	IPv6 []string `xml:"ipv6AddressesSet>item>ipv6Address"`
	Tags []xTag   `xml:"tagSet>item"`
}

type xENIs struct {
	ENIs      []xENI `xml:"networkInterfaceSet>item"`
	NextToken string `xml:"nextToken"`
}

func (f *fixture) enis(kv ...string) []string {
	f.t.Helper()
	var out xENIs
	f.ok(&out, append([]string{"Action", "DescribeNetworkInterfaces"}, kv...)...)
	var ids []string
	for _, e := range out.ENIs {
		ids = append(ids, e.ID)
	}
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) string {
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func TestDescribeNetworkInterfaces(t *testing.T) {
	f := newFixture(t)
	var out xENIs
	f.ok(&out, "Action", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", f.eth0.ID)
	if len(out.ENIs) != 1 {
		t.Fatalf("%+v", out)
	}
	e := out.ENIs[0]
	if e.SubnetID != f.eth0.SubnetID || e.VpcID != testVPC || e.AZ != "us-east-1a" || e.MAC != "02:00:00:00:00:01" || e.PrivateIP != "10.0.1.5" ||
		e.PrivateDNS != "ip-10-0-1-5.ec2.internal" || e.Status != "in-use" || e.InstanceID != f.web.ID || e.DeviceIndex != 0 ||
		e.AttachTime != "2026-03-04T05:06:07.891Z" || e.Description != "eth0 on web-1" || len(e.Addresses) != 2 || !e.Addresses[0].Primary ||
		e.Addresses[1].IP != "10.0.1.6" || e.Addresses[1].Primary || len(e.IPv6) != 1 || e.IPv6[0] != "fd00::5" || len(e.Tags) != 1 || e.Tags[0] != (xTag{"Name", "eth0"}) {
		t.Fatalf("eth0 %+v", e)
	}
	all := sorted(f.eth0.ID, f.eth1.ID, f.ens5.ID)
	for _, c := range []struct {
		want string
		kv   []string
	}{
		{all, nil},
		{all, []string{"Filter.1.Name", "vpc-id", "Filter.1.Value.1", testVPC}},
		{sorted(f.eth0.ID, f.ens5.ID), []string{"Filter.1.Name", "subnet-id", "Filter.1.Value.1", f.eth0.SubnetID}},
		{sorted(f.eth0.ID), []string{"Filter.1.Name", "addresses.private-ip-address", "Filter.1.Value.1", "10.0.1.6"}},
		{"", []string{"Filter.1.Name", "private-ip-address", "Filter.1.Value.1", "10.0.1.6"}}, // secondary, not primary
		{sorted(f.eth0.ID, f.ens5.ID), []string{"Filter.1.Name", "private-ip-address", "Filter.1.Value.1", "10.0.1.*"}},
		{sorted(f.eth0.ID, f.eth1.ID), []string{"Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", f.web.ID}},
		{sorted(f.ens5.ID), []string{"Filter.1.Name", "mac-address", "Filter.1.Value.1", "02:00:00:00:01:01"}},
		{sorted(f.ens5.ID), []string{"Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1b"}},
		{sorted(f.eth1.ID), []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "eth1"}},
		{sorted(f.eth0.ID, f.eth1.ID), []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "eth?"}},
		{sorted(f.eth1.ID), []string{"Filter.1.Name", "network-interface-id", "Filter.1.Value.1", f.eth1.ID}},
		{sorted(f.eth1.ID), []string{"Filter.1.Name", "attachment.device-index", "Filter.1.Value.1", "1"}},
		{sorted(f.eth0.ID), []string{"Filter.1.Name", "ipv6-addresses.ipv6-address", "Filter.1.Value.1", "fd00::5"}},
		{sorted(f.ens5.ID), []string{"Filter.1.Name", "subnet-id", "Filter.1.Value.1", f.eth0.SubnetID, "Filter.2.Name", "attachment.instance-id", "Filter.2.Value.1", f.db.ID}},
	} {
		if got := strings.Join(f.enis(c.kv...), ","); got != c.want {
			t.Errorf("%v: got %s want %s", c.kv, got, c.want)
		}
	}
	f.fails(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-00000000000000000' does not exist",
		"Action", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", "eni-00000000000000000")
	f.fails(400, "InvalidParameterValue", "The filter 'colour' is invalid", "Action", "DescribeNetworkInterfaces", "Filter.1.Name", "colour", "Filter.1.Value.1", "x")
	f.fails(400, "InvalidParameterValue", "maxResults", "Action", "DescribeNetworkInterfaces", "MaxResults", "1")

	// Paging with MaxResults 5 over three interfaces: one page.
	f.ok(&out, "Action", "DescribeNetworkInterfaces", "MaxResults", "5")
	if out.NextToken != "" {
		t.Fatal("a short list got a next token")
	}
	code, body := f.callIn("ap-south-1", "Action", "DescribeNetworkInterfaces")
	if code != 200 || !strings.Contains(body, "<networkInterfaceSet></networkInterfaceSet>") {
		t.Fatalf("other region %s", body)
	}
}

func TestDescribeVpcsSubnetsInstances(t *testing.T) {
	f := newFixture(t)
	var vpcs struct {
		Vpcs []struct {
			ID    string `xml:"vpcId"`
			CIDR  string `xml:"cidrBlock"`
			State string `xml:"state"`
			Owner string `xml:"ownerId"`
		} `xml:"vpcSet>item"`
	}
	f.ok(&vpcs, "Action", "DescribeVpcs")
	if len(vpcs.Vpcs) != 1 || vpcs.Vpcs[0].ID != testVPC || vpcs.Vpcs[0].CIDR != "10.0.0.0/16" || vpcs.Vpcs[0].State != "available" || vpcs.Vpcs[0].Owner != "000000000000" {
		t.Fatalf("vpcs %+v", vpcs)
	}
	f.fails(400, "InvalidVpcID.NotFound", "The vpc ID 'vpc-00000000000000000' does not exist", "Action", "DescribeVpcs", "VpcId.1", "vpc-00000000000000000")
	f.fails(400, "InvalidVpcID.NotFound", "The vpc IDs 'vpc-1, vpc-2' do not exist", "Action", "DescribeVpcs", "VpcId.1", "vpc-1", "VpcId.2", "vpc-2", "VpcId.3", testVPC)
	vpcs.Vpcs = nil
	f.ok(&vpcs, "Action", "DescribeVpcs", "Filter.1.Name", "cidr", "Filter.1.Value.1", "192.168.0.0/16")
	if len(vpcs.Vpcs) != 0 {
		t.Fatal("cidr filter matched")
	}

	var subs struct {
		Subnets []struct {
			ID        string `xml:"subnetId"`
			CIDR      string `xml:"cidrBlock"`
			IPv6      string `xml:"ipv6CidrBlockAssociationSet>item>ipv6CidrBlock"`
			AZ        string `xml:"availabilityZone"`
			AZID      string `xml:"availabilityZoneId"`
			Available int    `xml:"availableIpAddressCount"`
			ARN       string `xml:"subnetArn"`
		} `xml:"subnetSet>item"`
	}
	f.ok(&subs, "Action", "DescribeSubnets", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", testVPC, "Filter.2.Name", "cidr-block", "Filter.2.Value.1", "10.0.1.0/24")
	if len(subs.Subnets) != 1 {
		t.Fatalf("subnets %+v", subs)
	}
	s := subs.Subnets[0]
	if s.ID != f.eth0.SubnetID || s.CIDR != "10.0.1.0/24" || s.IPv6 != "fd00::/64" || s.AZ != "us-east-1b" /* db-1 (first by id) */ || s.AZID != "use1-az2" || s.Available != 251 ||
		s.ARN != "arn:aws:ec2:us-east-1:000000000000:subnet/"+s.ID {
		t.Fatalf("subnet %+v", s)
	}
	f.fails(400, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-00000000' does not exist", "Action", "DescribeSubnets", "SubnetId.1", "subnet-00000000")

	var insts struct {
		Reservations []struct {
			ID        string `xml:"reservationId"`
			Instances []struct {
				ID        string   `xml:"instanceId"`
				State     string   `xml:"instanceState>name"`
				PrivateIP string   `xml:"privateIpAddress"`
				SubnetID  string   `xml:"subnetId"`
				AZ        string   `xml:"placement>availabilityZone"`
				ENIs      []string `xml:"networkInterfaceSet>item>networkInterfaceId"`
				Tags      []xTag   `xml:"tagSet>item"`
			} `xml:"instancesSet>item"`
		} `xml:"reservationSet>item"`
	}
	f.ok(&insts, "Action", "DescribeInstances", "Filter.1.Name", "network-interface.addresses.private-ip-address", "Filter.1.Value.1", "10.0.2.5")
	if len(insts.Reservations) != 1 || len(insts.Reservations[0].Instances) != 1 {
		t.Fatalf("instances %+v", insts)
	}
	in := insts.Reservations[0].Instances[0]
	if in.ID != f.web.ID || in.State != "running" || in.PrivateIP != "10.0.1.5" || in.SubnetID != f.eth0.SubnetID || in.AZ != "us-east-1a" ||
		strings.Join(in.ENIs, ",") != f.eth0.ID+","+f.eth1.ID || len(in.Tags) != 1 || in.Tags[0].Value != "web-1" {
		t.Fatalf("instance %+v", in)
	}
	insts.Reservations = nil
	f.ok(&insts, "Action", "DescribeInstances", "Filter.1.Name", "tag:Name", "Filter.1.Value.1", "db-*", "Filter.2.Name", "instance-state-name", "Filter.2.Value.1", "running")
	if len(insts.Reservations) != 1 || insts.Reservations[0].Instances[0].ID != f.db.ID {
		t.Fatalf("instances by tag %+v", insts)
	}
	f.fails(400, "InvalidInstanceID.NotFound", "The instance ID 'i-00000000000000000' does not exist", "Action", "DescribeInstances", "InstanceId.1", "i-00000000000000000")
	f.fails(400, "InvalidParameterCombination", "maxResults", "Action", "DescribeInstances", "InstanceId.1", f.db.ID, "MaxResults", "5")
	f.fails(412, "DryRunOperation", "DryRun flag is set", "Action", "DescribeInstances", "DryRun", "true")
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"abc", "abc", true}, {"abc", "abd", false}, {"a*", "abc", true}, {"*c", "abc", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*", "", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {"10.0.*", "10.0.1.5", true}, {"?", "", false},
	} {
		if glob(c.p, c.s) != c.want {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, !c.want)
		}
	}
}

func TestRefreshHookIsRateLimited(t *testing.T) {
	f := newFixture(t)
	calls := 0
	f.svc.refresh = func() { calls++ }
	for i := 0; i < 3; i++ {
		f.enis()
	}
	f.create(cwl("VPC", "ALL", "g", testVPC)...)
	if calls != 1 {
		t.Fatalf("refresh ran %d times in a burst, want 1", calls)
	}
	f.svc.lastRefresh = f.svc.lastRefresh.Add(-2 * time.Second)
	f.enis()
	if calls != 2 {
		t.Fatalf("refresh did not run again after a second (%d)", calls)
	}
}

func TestActionNamesResources(t *testing.T) {
	f := newFixture(t)
	info := awsapi.RequestInfo{Region: "eu-west-1", AccountID: "123456789012"}
	for body, want := range map[string]string{
		"Action=CreateFlowLogs&ResourceType=VPC":                  "ec2:CreateFlowLogs arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*",
		"Action=DeleteFlowLogs&FlowLogId.1=fl-1":                  "ec2:DeleteFlowLogs arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/fl-1",
		"Action=DeleteFlowLogs&FlowLogId.1=fl-1&FlowLogId.2=fl-2": "ec2:DeleteFlowLogs arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*",
		"Action=DescribeVpcs":                                     "ec2:DescribeVpcs *",
		"Action=RunInstances":                                     " ",
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		action, res, err := f.svc.Action(r, []byte(body), info)
		got := action + " "
		if res != nil {
			got += res()
		}
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", body, got, err, want)
		}
	}
}
