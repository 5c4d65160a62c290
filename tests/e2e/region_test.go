package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFlowLogsInTheHostsRegion: with `serve --region eu-west-1` this
// host's interfaces are eu-west-1's, as an instance lives in one region;
// a flow log created there delivers into the eu-west-1 log group of its
// name, and us-east-1 sees neither the interfaces nor the group.
func TestFlowLogsInTheHostsRegion(t *testing.T) {
	t.Parallel() // the seed workflow mostly waits for windows to close
	s := startServer(t, "--region", "eu-west-1")
	eu := func(args ...string) string { return s.aws(append([]string{"--region", "eu-west-1"}, args...)...) }

	if out := s.aws("ec2", "describe-network-interfaces", "--query", "length(NetworkInterfaces)"); out != "0" {
		t.Fatalf("us-east-1 lists eu-west-1's interfaces: %s", out)
	}
	eni := s.interfaceID("--region", "eu-west-1")
	role := s.deliveryRole("euRole")
	// As in AWS, a resource of another region is an Unsuccessful item.
	if out := s.aws("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "region-logs", "--deliver-logs-permission-arn", role, "--query", "[length(FlowLogIds), Unsuccessful[0].Error.Code]"); !strings.Contains(out, "0") || !strings.Contains(out, "NotFound") {
		t.Fatalf("us-east-1 created a flow log on an eu-west-1 interface: %s", out)
	}
	if out := eu("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "region-logs", "--deliver-logs-permission-arn", role, "--max-aggregation-interval", "60",
		"--query", "Unsuccessful[0].Error.Message"); out != "None" {
		t.Fatalf("eu-west-1 flow log on %s not created: %s", eni, out)
	}
	// The same name in us-east-1 exists beforehand and must stay empty.
	s.aws("logs", "create-log-group", "--log-group-name", "region-logs")

	s.inject(eni, 5)
	count := func(region string) int { return s.events(region, "region-logs", eni+"-all") }
	deadline := time.Now().Add(30 * time.Second)
	for count("eu-west-1") != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("records not delivered to the eu-west-1 group; serve:\n%s", s.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := count("us-east-1"); n != -1 {
		t.Fatalf("the us-east-1 group of the same name got a stream (%d events)", n)
	}
	if arn := eu("logs", "describe-log-groups", "--log-group-name-prefix", "region-logs", "--query", "logGroups[0].arn"); arn != "arn:aws:logs:eu-west-1:123456789012:log-group:region-logs:*" {
		t.Fatalf("eu-west-1 group ARN %s", arn)
	}
}
