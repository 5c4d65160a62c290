package ec2

import (
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/inventory"
)

func formArgs(h inventory.HostInfo) []string {
	var kv []string
	for k, vs := range RegisterHostForm(h) {
		if k != "Version" {
			kv = append(kv, k, vs[0])
		}
	}
	return kv
}

func TestRegisterHost(t *testing.T) {
	f := newFixture(t)
	agent := inventory.HostInfo{MachineID: "agent-machine", Hostname: "agent-1", AZ: "us-east-1c", NICs: []inventory.NIC{
		{Name: "lo", Index: 1, Loopback: true, Up: true, Addrs: pfx("127.0.0.1/8")},
		{Name: "ens3", Index: 2, MAC: "02:00:00:00:02:01", MTU: 1500, Up: true, Addrs: pfx("10.0.1.77/24", "10.0.1.78/24")},
		{Name: "ens4", Index: 3, MAC: "02:00:00:00:02:02", MTU: 1500, Up: true, Addrs: pfx("10.0.9.1/24")},
	}}
	var out struct {
		InstanceID string `xml:"instanceId"`
		VpcID      string `xml:"vpcId"`
		ENIs       []struct {
			ID       string `xml:"networkInterfaceId"`
			Name     string `xml:"name"`
			SubnetID string `xml:"subnetId"`
		} `xml:"networkInterfaceSet>item"`
	}
	f.ok(&out, formArgs(agent)...)
	if out.InstanceID != agent.ID() || out.VpcID != testVPC || len(out.ENIs) != 2 || out.ENIs[0].Name != "ens3" ||
		out.ENIs[0].ID != inventory.InterfaceID(agent.ID(), "ens3", "02:00:00:00:02:01") || out.ENIs[0].SubnetID != f.eth0.SubnetID {
		t.Fatalf("register: %+v", out)
	}
	// The agent's interfaces are now under the VPC and its subnets, so a
	// VPC flow log covers them.
	if ids := f.enis("Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", agent.ID()); len(ids) != 2 {
		t.Fatalf("agent interfaces %v", ids)
	}
	if n := len(f.svc.InterfacesUnder(testVPC)); n != 5 {
		t.Fatalf("vpc covers %d interfaces, want 5", n)
	}
	if in, _ := f.inv.Instance(agent.ID()); !in.Remote || in.AZ != "us-east-1c" || in.Hostname != "agent-1" {
		t.Fatalf("agent instance %+v", in)
	}

	// Re-registering replaces the interfaces; a restart keeps the host.
	agent.NICs = agent.NICs[:2]
	f.ok(nil, formArgs(agent)...)
	f.inv.RemoveHost(agent.ID()) // as if the server restarted with an empty inventory
	f.open()
	if ids := f.enis("Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", agent.ID()); len(ids) != 1 {
		t.Fatalf("after re-register and restart %v", ids)
	}

	f.fails(400, "InvalidParameter", "server's own host", "Action", "FlowwatchRegisterHost", "InstanceId", f.web.ID)
	f.fails(400, "MissingParameter", "InstanceId", "Action", "FlowwatchRegisterHost")
	f.fails(400, "InvalidParameterValue", "Invalid id", "Action", "FlowwatchRegisterHost", "InstanceId", "host-1")
	f.fails(400, "InvalidParameterValue", "expecting an address with its prefix length", "Action", "FlowwatchRegisterHost",
		"InstanceId", "i-00000000000000001", "NetworkInterface.1.Name", "eth0", "NetworkInterface.1.Address.1", "10.0.0.1")
	f.fails(400, "InvalidParameterValue", "Duplicate network interface name 'eth0'", "Action", "FlowwatchRegisterHost",
		"InstanceId", "i-00000000000000001", "NetworkInterface.1.Name", "eth0", "NetworkInterface.2.Name", "eth0")
	code, body := f.callIn("eu-west-1", formArgs(agent)...)
	if code != 400 || !strings.Contains(body, "registered in us-east-1") {
		t.Fatalf("other region: %d %s", code, body)
	}

	var ret struct {
		Return bool `xml:"return"`
	}
	f.ok(&ret, "Action", "FlowwatchDeregisterHost", "InstanceId", agent.ID())
	if !ret.Return {
		t.Fatal("deregister did not return true")
	}
	f.fails(400, "InvalidInstanceID.NotFound", agent.ID(), "Action", "FlowwatchDeregisterHost", "InstanceId", agent.ID())
	f.open()
	if _, ok := f.inv.Instance(agent.ID()); ok {
		t.Fatal("deregistered host came back after restart")
	}
}
