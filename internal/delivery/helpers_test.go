package delivery

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/iam"
	"github.com/flowwatch/flowwatch/internal/inventory"
	"github.com/flowwatch/flowwatch/internal/logs"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
	vpc    = "vpc-0a1b2c3d4e5f67890"
	sub1   = "subnet-0123456789abcdef0"
	sub2   = "subnet-0fedcba9876543210"
	eniA   = "eni-0aaaaaaaaaaaaaaa1"
	eniB   = "eni-0bbbbbbbbbbbbbbb2"
	eniC   = "eni-0ccccccccccccccc3"
	inst   = "i-0abcdef1234567890"
)

// fakeFlowLogs is the flow log registry and inventory of the tests: three
// interfaces, two in one subnet, all in one VPC.
type fakeFlowLogs struct {
	mu     sync.Mutex
	logs   []ec2.FlowLog
	ifaces []inventory.Interface
}

func newFakeFlowLogs() *fakeFlowLogs {
	mk := func(id, subnet, ip string) inventory.Interface {
		return inventory.Interface{ID: id, Name: id, InstanceID: inst, SubnetID: subnet, VPCID: vpc, Region: region,
			PrivateIPs: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	return &fakeFlowLogs{ifaces: []inventory.Interface{
		mk(eniA, sub1, "10.0.1.10"), mk(eniB, sub1, "10.0.1.11"), mk(eniC, sub2, "10.0.2.10"),
	}}
}

func (f *fakeFlowLogs) FlowLogs() []ec2.FlowLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logs)
}

func (f *fakeFlowLogs) add(fl ec2.FlowLog) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fl)
}

func (f *fakeFlowLogs) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = slices.DeleteFunc(f.logs, func(fl ec2.FlowLog) bool { return fl.ID == id })
}

func (f *fakeFlowLogs) get(id string) ec2.FlowLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fl := range f.logs {
		if fl.ID == id {
			return fl
		}
	}
	return ec2.FlowLog{}
}

func (f *fakeFlowLogs) SetDeliveryStatus(id, status, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.logs {
		if f.logs[i].ID == id {
			f.logs[i].DeliverLogsStatus, f.logs[i].DeliverLogsErrorMessage = status, message
			return nil
		}
	}
	return ec2.ErrNoFlowLog
}

func (f *fakeFlowLogs) InterfacesUnder(res string) []inventory.Interface {
	var out []inventory.Interface
	for _, it := range f.ifaces {
		if it.ID == res || it.SubnetID == res || it.VPCID == res {
			out = append(out, it)
		}
	}
	return out
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a delivery manager on a memory store with a real IAM service.
type env struct {
	t     testing.TB
	dir   string
	fls   *fakeFlowLogs
	iam   *iam.Service
	store logstore.Store
	logs  *logs.Service
	clock *clock
	m     *Manager
}

// t0 is a window boundary of both intervals (divisible by 600).
var t0 = time.Unix(1_718_013_600, 0)

func newEnv(t testing.TB) *env {
	t.Helper()
	is, err := iam.Open(iam.Config{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: t.TempDir(), fls: newFakeFlowLogs(), iam: is, store: logstore.NewMemory(), clock: &clock{t: t0}}
	e.logs = logs.New(logs.Config{Store: e.store, AccountID: acct, Now: e.clock.Now})
	e.open()
	return e
}

// open (re)creates the manager on the same data dir, as a restart does.
func (e *env) open() {
	e.t.Helper()
	m, err := New(Config{DataDir: e.dir, FlowLogs: e.fls, Roles: e.iam, Logs: e.logs, Groups: e.store, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
}

func (e *env) pass(at time.Time) {
	e.t.Helper()
	e.clock.Set(at)
	if err := e.m.Pass(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deliver(at time.Time, recs ...flowlog.Record) {
	e.t.Helper()
	e.clock.Set(at)
	if err := e.m.Deliver(recs); err != nil {
		e.t.Fatal(err)
	}
}

const trustDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

const permsDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents","logs:DescribeLogGroups","logs:DescribeLogStreams"],"Resource":"*"}]}`

// role creates a role with trust and (when not "") an inline policy.
func (e *env) role(name, trust, perms string) string {
	e.t.Helper()
	r, err := e.iam.CreateRole(iam.CreateRoleInput{RoleName: name, Path: "/", AssumeRolePolicyDocument: trust})
	if err != nil {
		e.t.Fatal(err)
	}
	if perms != "" {
		if err := e.iam.PutRolePolicy(name, "delivery", perms); err != nil {
			e.t.Fatal(err)
		}
	}
	return r.Arn
}

// cwlFlowLog registers a CloudWatch Logs flow log created at t0.
func (e *env) cwlFlowLog(id, resource, traffic, group, roleArn, format string, interval int) ec2.FlowLog {
	e.t.Helper()
	if format == "" {
		format = flowlog.DefaultFormatString
	}
	f, err := flowlog.ParseFormat(format)
	if err != nil {
		e.t.Fatal(err)
	}
	fl := ec2.FlowLog{ID: id, Region: region, AccountID: acct, ResourceID: resource, TrafficType: traffic,
		LogDestinationType: ec2.DestCloudWatchLogs, LogGroupName: group,
		LogDestination:           "arn:aws:logs:" + region + ":" + acct + ":log-group:" + group,
		DeliverLogsPermissionArn: roleArn, LogFormat: f, MaxAggregationInterval: interval,
		CreationTime: t0.Add(-time.Hour), DeliverLogsStatus: ec2.StatusSuccess}
	e.fls.add(fl)
	return fl
}

func (e *env) s3FlowLog(id, resource, dest, format string, interval int, opts ec2.DestinationOptions) ec2.FlowLog {
	e.t.Helper()
	if format == "" {
		format = flowlog.DefaultFormatString
	}
	f, err := flowlog.ParseFormat(format)
	if err != nil {
		e.t.Fatal(err)
	}
	fl := ec2.FlowLog{ID: id, Region: region, AccountID: acct, ResourceID: resource, TrafficType: "ALL",
		LogDestinationType: ec2.DestS3, LogDestination: dest, LogFormat: f, MaxAggregationInterval: interval,
		DestinationOptions: &opts, CreationTime: t0.Add(-time.Hour), DeliverLogsStatus: ec2.StatusSuccess}
	e.fls.add(fl)
	return fl
}

// events returns the messages of a stream, or nil when it does not exist.
func (e *env) events(group, stream string) []logstore.StoredEvent {
	e.t.Helper()
	evs, _, err := e.store.Events(context.Background(), logstore.EventQuery{Group: group, Streams: []string{stream}, Start: logstore.MinTime, End: logstore.MaxTime})
	if err != nil {
		return nil
	}
	return evs
}

func (e *env) messages(group, stream string) []string {
	var out []string
	for _, ev := range e.events(group, stream) {
		out = append(out, ev.Message)
	}
	return out
}

func (e *env) streams(group string) []string {
	ss, err := e.store.Streams(group)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// flow is an OK record of eni in the window [start, start+60).
func flow(eni, src, dst string, sport, dport int32, action flowlog.Action, packets, bytes int64, start int64) flowlog.Record {
	r := flowlog.Blank()
	r.AccountID, r.InterfaceID = acct, eni
	r.SrcAddr, r.DstAddr = netip.MustParseAddr(src), netip.MustParseAddr(dst)
	r.SrcPort, r.DstPort, r.Protocol = sport, dport, 6
	r.Packets, r.Bytes = packets, bytes
	r.Start, r.End = start, start+60
	r.Action, r.LogStatus = action, flowlog.StatusOK
	r.Type, r.TCPFlags = flowlog.TypeIPv4, 2
	r.PktSrcAddr, r.PktDstAddr = r.SrcAddr, r.DstAddr
	r.FlowDirection = flowlog.DirIngress
	return r
}

func nodata(eni string, start int64) flowlog.Record {
	r := flowlog.Blank()
	r.AccountID, r.InterfaceID = acct, eni
	r.Start, r.End = start, start+60
	r.LogStatus = flowlog.StatusNoData
	return r
}

func logstoreMeta() logstore.GroupMeta {
	return logstore.GroupMeta{CreationTime: t0.UnixMilli(), Class: "STANDARD"}
}
