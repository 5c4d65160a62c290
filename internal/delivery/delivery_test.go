package delivery

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/logs"
)

func TestStreamName(t *testing.T) {
	for tt, want := range map[string]string{"ALL": "eni-1-all", "ACCEPT": "eni-1-accept", "REJECT": "eni-1-reject"} {
		if got := StreamName("eni-1", tt); got != want {
			t.Errorf("StreamName(%s) = %q, want %q", tt, got, want)
		}
	}
}

func TestTrafficTypesStreamsAndDefaultFormat(t *testing.T) {
	e := newEnv(t)
	role := e.role("flowlogsRole", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", vpc, "ALL", "vpc-all", role, "", 60)
	e.cwlFlowLog("fl-00000000000000002", eniA, "REJECT", "eni-rej", role, "", 60)
	e.cwlFlowLog("fl-00000000000000003", sub1, "ACCEPT", "sub-acc", role, "", 60)
	s := t0.Unix()
	e.deliver(t0.Add(61*time.Second),
		flow(eniA, "198.51.100.7", "10.0.1.10", 51234, 22, flowlog.ActionReject, 1, 40, s),
		flow(eniA, "10.0.1.20", "10.0.1.10", 40000, 443, flowlog.ActionAccept, 10, 5120, s),
		flow(eniB, "10.0.1.10", "10.0.1.11", 40001, 80, flowlog.ActionAccept, 3, 180, s),
		nodata(eniC, s), // no traffic yet on eniC: no stream (spec §8.8)
	)
	// Not before the window has closed (plus the grace period).
	e.pass(t0.Add(61 * time.Second))
	if got := e.streams("vpc-all"); got != nil {
		t.Fatalf("streams before the window closed: %v", got)
	}
	e.pass(t0.Add(63 * time.Second))

	if got, want := e.streams("vpc-all"), []string{eniA + "-all", eniB + "-all"}; !slices.Equal(got, want) {
		t.Errorf("vpc-all streams %v, want %v", got, want)
	}
	want := []string{
		fmt.Sprintf("2 %s %s 198.51.100.7 10.0.1.10 51234 22 6 1 40 %d %d REJECT OK", acct, eniA, s, s+60),
		fmt.Sprintf("2 %s %s 10.0.1.20 10.0.1.10 40000 443 6 10 5120 %d %d ACCEPT OK", acct, eniA, s, s+60),
	}
	if got := e.messages("vpc-all", eniA+"-all"); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("vpc-all/%s-all:\n got %q\nwant %q", eniA, got, want)
	}
	for _, ev := range e.events("vpc-all", eniA+"-all") {
		if ev.Timestamp != s*1000 {
			t.Errorf("event timestamp %d, want start*1000 = %d", ev.Timestamp, s*1000)
		}
	}
	if got, want := e.streams("eni-rej"), []string{eniA + "-reject"}; !slices.Equal(got, want) {
		t.Errorf("eni-rej streams %v, want %v", got, want)
	}
	if got := e.messages("eni-rej", eniA+"-reject"); !slices.Equal(got, want[:1]) {
		t.Errorf("REJECT flow log got %q, want only the REJECT record", got)
	}
	if got, want := e.streams("sub-acc"), []string{eniA + "-accept", eniB + "-accept"}; !slices.Equal(got, want) {
		t.Errorf("sub-acc streams %v, want %v (eniC is in another subnet)", got, want)
	}
	if got := e.messages("sub-acc", eniA+"-accept"); !slices.Equal(got, want[1:]) {
		t.Errorf("ACCEPT flow log got %q, want only the ACCEPT record", got)
	}

	// NODATA goes with every traffic type once the interface has a stream.
	s2 := s + 60
	e.deliver(t0.Add(121*time.Second), nodata(eniA, s2), nodata(eniC, s2))
	e.pass(t0.Add(123 * time.Second))
	nd := fmt.Sprintf("2 %s %s - - - - - - - %d %d - NODATA", acct, eniA, s2, s2+60)
	for g, stream := range map[string]string{"vpc-all": eniA + "-all", "eni-rej": eniA + "-reject", "sub-acc": eniA + "-accept"} {
		got := e.messages(g, stream)
		if len(got) == 0 || got[len(got)-1] != nd {
			t.Errorf("%s/%s: last event %q, want NODATA line %q", g, stream, got, nd)
		}
	}
	if slices.Contains(e.streams("vpc-all"), eniC+"-all") {
		t.Error("an interface with only NODATA got a stream")
	}
	for _, id := range []string{"fl-00000000000000001", "fl-00000000000000002", "fl-00000000000000003"} {
		if fl := e.fls.get(id); fl.DeliverLogsStatus != ec2.StatusSuccess || fl.DeliverLogsErrorMessage != "" {
			t.Errorf("%s: status %q %q, want SUCCESS", id, fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage)
		}
	}
	// Everything delivered: the spool is empty.
	if names, _ := e.m.spool.list(); len(names) != 0 {
		t.Errorf("spool still holds %v", names)
	}
}

func sortedCopy(s []string) []string { c := slices.Clone(s); slices.Sort(c); return c }

func TestCustomFormatFillsIdentityFromInventory(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "kc", role, flowlog.KnowledgeCenterFormatString, 60)
	s := t0.Unix()
	r := flow(eniA, "198.51.100.7", "10.0.1.10", 51234, 22, flowlog.ActionReject, 1, 40, s)
	r.TCPFlags = 2
	e.deliver(t0.Add(60*time.Second), r)
	e.pass(t0.Add(70 * time.Second))
	want := fmt.Sprintf("%s %s %s %s %s 198.51.100.7 51234 10.0.1.10 22 6 1 40 REJECT OK %d %d ingress - 2 198.51.100.7 - 10.0.1.10 - %s - - -",
		acct, vpc, sub1, eniA, inst, s, s+60, region)
	if got := e.messages("kc", eniA+"-all"); len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestTenMinuteAggregation(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", vpc, "ALL", "g600", role, "", 600)
	s := t0.Unix()
	// The same flow in three one-minute capture windows, plus NODATA of
	// the same interface in another minute: one record for ten minutes.
	for i, start := range []int64{s, s + 60, s + 240} {
		r := flow(eniA, "10.0.1.20", "10.0.1.10", 40000, 443, flowlog.ActionAccept, int64(i+1), 100, start)
		r.TCPFlags = []int32{2, 16, 1}[i]
		e.deliver(time.Unix(start+61, 0), r)
		e.pass(time.Unix(start+65, 0))
	}
	e.deliver(time.Unix(s+181, 0), nodata(eniA, s+120))
	e.pass(t0.Add(599 * time.Second))
	if got := e.streams("g600"); got != nil {
		t.Fatalf("delivered before the ten-minute window closed: %v", got)
	}
	e.pass(t0.Add(602 * time.Second))
	want := fmt.Sprintf("2 %s %s 10.0.1.20 10.0.1.10 40000 443 6 6 300 %d %d ACCEPT OK", acct, eniA, s, s+300)
	if got := e.messages("g600", eniA+"-all"); len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestIAMDenyAndRecovery(t *testing.T) {
	e := newEnv(t)
	noPut := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:DescribeLogGroups","logs:DescribeLogStreams"],"Resource":"*"}]}`
	role := e.role("weak", trustDoc, noPut)
	fl := e.cwlFlowLog("fl-00000000000000009", eniA, "ALL", "denied", role, "", 60)
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(63 * time.Second))
	if got := e.fls.get(fl.ID); got.DeliverLogsStatus != ec2.StatusFailed || got.DeliverLogsErrorMessage != "Access error" {
		t.Fatalf("status %q %q, want FAILED Access error", got.DeliverLogsStatus, got.DeliverLogsErrorMessage)
	}
	if _, err := e.store.Group("denied"); err == nil {
		t.Error("a refused delivery created the log group")
	}
	// Fixing the policy brings the next window's records; the refused
	// window's records are gone, as in AWS.
	if err := e.iam.PutRolePolicy("weak", "delivery", permsDoc); err != nil {
		t.Fatal(err)
	}
	e.deliver(t0.Add(120*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 3, 4, flowlog.ActionAccept, 1, 40, s+60))
	e.pass(t0.Add(123 * time.Second))
	got := e.messages("denied", eniA+"-all")
	if len(got) != 1 || got[0] != fmt.Sprintf("2 %s %s 10.0.1.20 10.0.1.10 3 4 6 1 40 %d %d ACCEPT OK", acct, eniA, s+60, s+120) {
		t.Errorf("after the fix got %q", got)
	}
	if got := e.fls.get(fl.ID); got.DeliverLogsStatus != ec2.StatusSuccess || got.DeliverLogsErrorMessage != "" {
		t.Errorf("status after the fix %q %q, want SUCCESS", got.DeliverLogsStatus, got.DeliverLogsErrorMessage)
	}
}

func TestIAMTrustAndResourceChecks(t *testing.T) {
	s := t0.Unix()
	arnLike := func(a string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole",` +
			`"Condition":{"StringEquals":{"aws:SourceAccount":"` + acct + `"},"ArnLike":{"aws:SourceArn":"` + a + `"}}}]}`
	}
	perms := func(res string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"` + res + `"}]}`
	}
	const id = "fl-0123456789abcdef0"
	flARN := "arn:aws:ec2:" + region + ":" + acct + ":vpc-flow-log/" + id
	cases := []struct {
		name, trust, perms string
		ok                 bool
	}{
		{"trust without the service", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, permsDoc, false},
		{"source arn of this flow log", arnLike(flARN), permsDoc, true},
		{"source arn wildcard", arnLike("arn:aws:ec2:" + region + ":" + acct + ":vpc-flow-log/fl-*"), permsDoc, true},
		{"source arn of another flow log", arnLike("arn:aws:ec2:" + region + ":" + acct + ":vpc-flow-log/fl-99999999999999999"), permsDoc, false},
		{"group arn with :*", trustDoc, perms("arn:aws:logs:" + region + ":" + acct + ":log-group:g:*"), true},
		{"group arn without :* does not cover streams", trustDoc, perms("arn:aws:logs:" + region + ":" + acct + ":log-group:g"), false},
		{"no inline policy", trustDoc, "", false},
		{"explicit deny wins", trustDoc, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"},{"Effect":"Deny","Action":"logs:PutLogEvents","Resource":"*"}]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			role := e.role("r", c.trust, c.perms)
			e.cwlFlowLog(id, eniA, "ALL", "g", role, "", 60)
			e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
			e.pass(t0.Add(63 * time.Second))
			fl := e.fls.get(id)
			n := len(e.messages("g", eniA+"-all"))
			if c.ok && (fl.DeliverLogsStatus != ec2.StatusSuccess || n != 1) {
				t.Errorf("want delivery: status %q %q, %d events", fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage, n)
			}
			if !c.ok && (fl.DeliverLogsStatus != ec2.StatusFailed || fl.DeliverLogsErrorMessage != ec2.ErrAccess || n != 0) {
				t.Errorf("want Access error: status %q %q, %d events", fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage, n)
			}
		})
	}
}

func TestGroupRecreatedAndExistingGroupUsed(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "/flow/existing", role, "", 60)
	if err := e.store.CreateGroup("/flow/existing", logstoreMeta()); err != nil {
		t.Fatal(err)
	}
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(63 * time.Second))
	if n := len(e.messages("/flow/existing", eniA+"-all")); n != 1 {
		t.Fatalf("%d events in the existing group", n)
	}
	if err := e.store.DeleteGroup("/flow/existing"); err != nil {
		t.Fatal(err)
	}
	e.deliver(t0.Add(120*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s+60))
	e.pass(t0.Add(123 * time.Second))
	if n := len(e.messages("/flow/existing", eniA+"-all")); n != 1 {
		t.Fatalf("deleted group not re-created with the new window: %d events", n)
	}
}

func TestWindowsBeforeCreationAreNotDelivered(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(62 * time.Second)) // no flow log yet: the file is dropped
	fl := e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "late", role, "", 60)
	fl.CreationTime = t0.Add(90 * time.Second)
	e.fls.remove(fl.ID)
	e.fls.add(fl)
	e.pass(t0.Add(100 * time.Second))
	if got := e.streams("late"); got != nil {
		t.Errorf("a window spooled before the flow log existed was delivered: %v", got)
	}
	e.deliver(t0.Add(120*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s+60))
	e.pass(t0.Add(123 * time.Second))
	if n := len(e.messages("late", eniA+"-all")); n != 1 {
		t.Errorf("%d events after creation, want 1", n)
	}
}

func TestRestartLosesNoWindowAndDuplicatesNone(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", vpc, "ALL", "g", role, "", 60)
	e.cwlFlowLog("fl-00000000000000002", vpc, "ALL", "g10", role, "", 600)
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(63 * time.Second)) // the 60 s flow log delivers; the 600 s one waits
	// Acknowledged but never passed, then the process dies.
	e.deliver(t0.Add(120*time.Second), flow(eniB, "10.0.1.20", "10.0.1.11", 5, 6, flowlog.ActionReject, 2, 80, s+60))
	e.open()
	e.pass(t0.Add(123 * time.Second))
	if n := len(e.messages("g", eniA+"-all")); n != 1 {
		t.Errorf("window delivered before the restart: %d events after it, want 1", n)
	}
	if n := len(e.messages("g", eniB+"-all")); n != 1 {
		t.Errorf("window acknowledged before the restart: %d events, want 1", n)
	}
	// The ten-minute window survives two more restarts and is delivered
	// once, whole.
	e.open()
	e.pass(t0.Add(300 * time.Second))
	e.open()
	e.pass(t0.Add(603 * time.Second))
	if n := len(e.messages("g10", eniA+"-all")) + len(e.messages("g10", eniB+"-all")); n != 2 {
		t.Errorf("ten-minute flow log: %d events after restarts, want 2", n)
	}
	e.open()
	e.pass(t0.Add(700 * time.Second))
	if n := len(e.messages("g10", eniA+"-all")) + len(e.messages("g10", eniB+"-all")); n != 2 {
		t.Errorf("ten-minute flow log: %d events after another restart, want 2 (no duplicates)", n)
	}
	if names, _ := e.m.spool.list(); len(names) != 0 {
		t.Errorf("spool still holds %v after every flow log delivered", names)
	}
}

func TestInboxAndSpoolRoundTrip(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "inbox", role, flowlog.KnowledgeCenterFormatString, 60)
	s := t0.Unix()
	r := flow(eniA, "2001:db8::1", "2001:db8::2", 1, 2, flowlog.ActionAccept, 7, 700, s)
	r.VPCID, r.SubnetID, r.InstanceID, r.Region, r.AZID = "vpc-x", "subnet-x", "i-x", "eu-west-1", "euw1-az1"
	r.PktSrcAWSService, r.TrafficPath, r.FlowDirection = "S3", 8, flowlog.DirEgress
	if _, err := WriteInbox(e.dir, []flowlog.Record{r}); err != nil {
		t.Fatal(err)
	}
	e.pass(t0.Add(63 * time.Second))
	want := fmt.Sprintf("%s vpc-x subnet-x %s i-x 2001:db8::1 1 2001:db8::2 2 6 7 700 ACCEPT OK %d %d egress 8 2 2001:db8::1 S3 2001:db8::2 - eu-west-1 euw1-az1 - -", acct, eniA, s, s+60)
	if got := e.messages("inbox", eniA+"-all"); len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if ents, _ := os.ReadDir(filepath.Join(SpoolDir(e.dir), inboxDir)); len(ents) != 0 {
		t.Errorf("inbox not emptied: %d entries", len(ents))
	}
}

func TestCorruptSpoolFileIsSetAside(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "g", role, "", 60)
	bad := filepath.Join(SpoolDir(e.dir), fmt.Sprintf("%020d-deadbeef.spool", t0.UnixNano()))
	if err := os.WriteFile(bad, []byte("flowwatch-spool 1\nsrcaddr\n1.2.3.4\n"), 0o600); err != nil { // no trailer: torn
		t.Fatal(err)
	}
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix()))
	e.pass(t0.Add(63 * time.Second))
	if n := len(e.messages("g", eniA+"-all")); n != 1 {
		t.Errorf("%d events, want 1: a corrupt file held delivery up", n)
	}
	if _, err := os.Stat(bad + ".corrupt"); err != nil {
		t.Errorf("corrupt file not set aside: %v", err)
	}
}

// TestDeliversToTheFlowLogsRegion: a flow log of eu-west-1 writes to the
// eu-west-1 log group of its name, never to the same name elsewhere.
func TestDeliversToTheFlowLogsRegion(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	fl := e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "/flow/eu", role, "", 60)
	fl.Region = "eu-west-1"
	fl.LogDestination = "arn:aws:logs:eu-west-1:" + acct + ":log-group:/flow/eu"
	e.fls.mu.Lock()
	e.fls.logs[len(e.fls.logs)-1] = fl
	e.fls.mu.Unlock()
	// The same name in the default region must stay untouched.
	if err := e.store.CreateGroup("/flow/eu", logstoreMeta()); err != nil {
		t.Fatal(err)
	}
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(63 * time.Second))
	if n := len(e.messages(logs.StoreKey("eu-west-1", "/flow/eu"), eniA+"-all")); n != 1 {
		t.Fatalf("%d events in the eu-west-1 group", n)
	}
	if n := len(e.messages("/flow/eu", eniA+"-all")); n != 0 {
		t.Fatalf("%d events in the us-east-1 group of the same name", n)
	}
}
