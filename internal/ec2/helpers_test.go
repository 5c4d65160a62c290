package ec2

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

const testVPC = "vpc-0a1b2c3d4e5f67890"

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// fixture is a service on an inventory of two hosts: web-1 with eth0
// (10.0.1.0/24) and eth1 (10.0.2.0/24), db-1 with ens5 in 10.0.1.0/24.
type fixture struct {
	t    testing.TB
	svc  *Service
	inv  *inventory.Inventory
	dir  string
	now  time.Time
	web  inventory.Instance
	db   inventory.Instance
	eth0 inventory.Interface
	eth1 inventory.Interface
	ens5 inventory.Interface
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)}
	inv, err := inventory.New(inventory.Config{VPCID: testVPC, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.inv = inv
	f.web, _ = inv.SetHost(inventory.HostInfo{MachineID: "web", Hostname: "web-1", NICs: []inventory.NIC{
		{Name: "eth0", Index: 2, MAC: "02:00:00:00:00:01", Up: true, Addrs: pfx("10.0.1.5/24", "10.0.1.6/24", "fd00::5/64")},
		{Name: "eth1", Index: 3, MAC: "02:00:00:00:00:02", Up: true, Addrs: pfx("10.0.2.5/24")},
	}})
	f.db, _ = inv.SetHost(inventory.HostInfo{InstanceID: "i-0123456789abcdef0", Hostname: "db-1", AZ: "us-east-1b", Remote: true, NICs: []inventory.NIC{
		{Name: "ens5", Index: 2, MAC: "02:00:00:00:01:01", Up: true, Addrs: pfx("10.0.1.9/24")},
	}})
	f.eth0, _ = inv.InterfaceByName(f.web.ID, "eth0")
	f.eth1, _ = inv.InterfaceByName(f.web.ID, "eth1")
	f.ens5, _ = inv.InterfaceByName(f.db.ID, "ens5")
	f.open()
	return f
}

// open (re)opens the service on the fixture's directory, as a restart.
func (f *fixture) open() {
	f.t.Helper()
	svc, err := New(Config{Dir: f.dir, Inventory: f.inv, Now: func() time.Time { return f.now }})
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
}

// call runs one request in region ("" means us-east-1) given as
// alternating key, value strings, and returns the status and body.
func (f *fixture) callIn(region string, kv ...string) (int, string) {
	f.t.Helper()
	if region == "" {
		region = "us-east-1"
	}
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	v.Set("Version", APIVersion)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	w := httptest.NewRecorder()
	info := awsapi.RequestInfo{RequestID: "req-1", AccountID: "000000000000", Region: region}
	if err := f.svc.Serve(w, r, []byte(v.Encode()), info); err != nil {
		ae := awsapi.AsError(err)
		if ae == nil {
			f.t.Fatalf("%v: non-AWS error %v", kv, err)
		}
		w = httptest.NewRecorder()
		f.svc.WriteError(w, ae, info.RequestID)
	}
	return w.Code, w.Body.String()
}

func (f *fixture) call(kv ...string) (int, string) {
	f.t.Helper()
	return f.callIn("", kv...)
}

// ok runs a request that must succeed and decodes its body into out.
func (f *fixture) ok(out any, kv ...string) string {
	f.t.Helper()
	code, body := f.call(kv...)
	if code != 200 {
		f.t.Fatalf("%v: HTTP %d %s", kv, code, body)
	}
	if out != nil {
		if err := xml.Unmarshal([]byte(body), out); err != nil {
			f.t.Fatalf("%v: decode %s: %v", kv, body, err)
		}
	}
	return body
}

// fails runs a request that must fail with status, code and a message
// containing msg.
func (f *fixture) fails(status int, code, msg string, kv ...string) {
	f.t.Helper()
	got, body := f.call(kv...)
	var e struct {
		Code      string `xml:"Errors>Error>Code"`
		Message   string `xml:"Errors>Error>Message"`
		RequestID string `xml:"RequestID"`
	}
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		f.t.Fatalf("%v: error body %q: %v", kv, body, err)
	}
	if got != status || e.Code != code || !strings.Contains(e.Message, msg) || e.RequestID != "req-1" {
		f.t.Fatalf("%v: got %d %s %q, want %d %s %q", kv, got, e.Code, e.Message, status, code, msg)
	}
}

// Decoded response shapes, only what the tests look at.
type xTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xFlowLog struct {
	FlowLogID                string `xml:"flowLogId"`
	CreationTime             string `xml:"creationTime"`
	ResourceID               string `xml:"resourceId"`
	TrafficType              string `xml:"trafficType"`
	LogGroupName             string `xml:"logGroupName"`
	LogDestination           string `xml:"logDestination"`
	LogDestinationType       string `xml:"logDestinationType"`
	LogFormat                string `xml:"logFormat"`
	DeliverLogsPermissionArn string `xml:"deliverLogsPermissionArn"`
	DeliverLogsStatus        string `xml:"deliverLogsStatus"`
	DeliverLogsErrorMessage  string `xml:"deliverLogsErrorMessage"`
	FlowLogStatus            string `xml:"flowLogStatus"`
	MaxAggregationInterval   int    `xml:"maxAggregationInterval"`
	DestinationOptions       *struct {
		FileFormat               string `xml:"fileFormat"`
		HiveCompatiblePartitions bool   `xml:"hiveCompatiblePartitions"`
		PerHourPartition         bool   `xml:"perHourPartition"`
	} `xml:"destinationOptions"`
	Tags []xTag `xml:"tagSet>item"`
}

type xUnsuccessful struct {
	ResourceID string `xml:"resourceId"`
	Code       string `xml:"error>code"`
	Message    string `xml:"error>message"`
}

type xCreate struct {
	RequestID    string          `xml:"requestId"`
	ClientToken  string          `xml:"clientToken"`
	IDs          []string        `xml:"flowLogIdSet>item"`
	Unsuccessful []xUnsuccessful `xml:"unsuccessful>item"`
}

type xDescribeFlowLogs struct {
	FlowLogs  []xFlowLog `xml:"flowLogSet>item"`
	NextToken string     `xml:"nextToken"`
}

type xDelete struct {
	Unsuccessful []xUnsuccessful `xml:"unsuccessful>item"`
}

// cwl is the argument list of a CloudWatch Logs flow log on resources.
func cwl(resourceType, traffic, group string, ids ...string) []string {
	kv := []string{"Action", "CreateFlowLogs", "ResourceType", resourceType, "TrafficType", traffic,
		"LogGroupName", group, "DeliverLogsPermissionArn", "arn:aws:iam::000000000000:role/flowlogsRole"}
	for i, id := range ids {
		kv = append(kv, fmt.Sprintf("ResourceId.%d", i+1), id)
	}
	return kv
}

func (f *fixture) create(kv ...string) xCreate {
	f.t.Helper()
	var out xCreate
	f.ok(&out, kv...)
	return out
}

func (f *fixture) describe(kv ...string) xDescribeFlowLogs {
	f.t.Helper()
	var out xDescribeFlowLogs
	f.ok(&out, append([]string{"Action", "DescribeFlowLogs"}, kv...)...)
	return out
}
