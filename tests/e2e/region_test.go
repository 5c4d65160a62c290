package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
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
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("e2e: the aws CLI is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, bin: flowwatchBinary(t), data: t.TempDir(), addr: addr, args: []string{"--region", "eu-west-1"}}
	s.start()
	defer func() { s.kill9() }()
	eu := func(args ...string) string { return s.aws(append([]string{"--region", "eu-west-1"}, args...)...) }

	if out := s.aws("ec2", "describe-network-interfaces", "--query", "length(NetworkInterfaces)"); out != "0" {
		t.Fatalf("us-east-1 lists eu-west-1's interfaces: %s", out)
	}
	eni := eu("ec2", "describe-network-interfaces", "--query", "NetworkInterfaces[0].NetworkInterfaceId")
	if !strings.HasPrefix(eni, "eni-") {
		t.Skipf("e2e: this host has no interface with an address (%q)", eni)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`
	role := s.aws("iam", "create-role", "--role-name", "euRole", "--assume-role-policy-document", trust, "--query", "Role.Arn")
	s.aws("iam", "put-role-policy", "--role-name", "euRole", "--policy-name", "p", "--policy-document", perms)
	// As in AWS, a resource of another region is an Unsuccessful item.
	if out := s.aws("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "region-logs", "--deliver-logs-permission-arn", role, "--query", "[length(FlowLogIds), Unsuccessful[0].Error.Code]"); !strings.Contains(out, "0") || !strings.Contains(out, "NotFound") {
		t.Fatalf("us-east-1 created a flow log on an eu-west-1 interface: %s", out)
	}
	eu("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "region-logs", "--deliver-logs-permission-arn", role, "--max-aggregation-interval", "60")
	// The same name in us-east-1 exists beforehand and must stay empty.
	s.aws("logs", "create-log-group", "--log-group-name", "region-logs")

	now := time.Now().Unix()
	start := now - now%60 - 120
	var lines strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&lines, "2 123456789012 %s 10.0.0.%d 10.0.0.1 %d 443 6 3 180 %d %d ACCEPT OK\n", eni, i+2, 40000+i, start, start+60)
	}
	inject := exec.Command(s.bin, "inject", "--data-dir", s.data)
	inject.Stdin = strings.NewReader(lines.String())
	if out, err := inject.CombinedOutput(); err != nil {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	count := func(region string) int {
		out, err := s.awsTry("--region", region, "logs", "get-log-events", "--log-group-name", "region-logs", "--log-stream-name", eni+"-all",
			"--start-from-head", "--query", "length(events)")
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(out)
		return n
	}
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
