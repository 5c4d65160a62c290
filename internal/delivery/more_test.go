package delivery

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// fullRecord sets every catalogued field to a value of its kind.
func fullRecord() flowlog.Record {
	r := flowlog.Blank()
	for _, fs := range flowlog.Catalogue {
		var v string
		switch fs.Kind {
		case flowlog.KindInt:
			v = "7"
		case flowlog.KindAddr:
			v = "2001:db8::7"
		case flowlog.KindEnum:
			v = map[string]string{"action": "REJECT", "log-status": "SKIPDATA", "type": "IPv6", "flow-direction": "egress"}[fs.Name]
		default:
			v = "v-" + fs.Name
		}
		if err := r.SetField(fs.ID, v); err != nil {
			panic(err)
		}
	}
	r.Version = flowlog.NA // not spooled: encoders write the format's version
	return r
}

func TestSpoolRoundTripsEveryField(t *testing.T) {
	recs := []flowlog.Record{fullRecord(), flowlog.Blank(), nodata(eniA, 60)}
	recs[1].InterfaceID = eniB
	got, err := decodeSpool(encodeSpool(recs))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, recs)
	}
	if _, err := decodeSpool(encodeSpool(recs)[:40]); err == nil {
		t.Error("a truncated spool file decoded")
	}
}

func FuzzDecodeSpool(f *testing.F) {
	f.Add(encodeSpool([]flowlog.Record{fullRecord(), nodata(eniA, 60)}))
	f.Add([]byte("flowwatch-spool 1\nsrcaddr srcport\n1.2.3.4 5\nend 1\n"))
	f.Add([]byte("flowwatch-spool 1\n\nend 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeSpool(b)
		if err != nil {
			return
		}
		again, err := decodeSpool(encodeSpool(recs))
		if err != nil {
			t.Fatalf("re-encoded spool does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, recs) && len(recs) > 0 {
			t.Fatalf("re-encoding changed the records:\n%+v\n%+v", recs, again)
		}
	})
}

func TestRunDeliversWhenWoken(t *testing.T) {
	e := newEnv(t)
	e.m.cfg.Tick = time.Hour // only Deliver's wake-up can trigger the pass
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "run", role, "", 60)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.clock.Set(t0.Add(63 * time.Second))
	go func() { defer close(done); e.m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond) // let the first (empty) pass go by
	if err := e.m.Deliver([]flowlog.Record{flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix())}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.messages("run", eniA+"-all")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Deliver did not wake delivery")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGroupARNWithStarSuffixIsAnAccessError(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	// DescribeLogGroups' arn ends in ":*"; given as LogDestination the group
	// name keeps it and delivery fails (spec §4.5).
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "g:*", role, "", 60)
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix()))
	e.pass(t0.Add(63 * time.Second))
	if fl := e.fls.get("fl-00000000000000001"); fl.DeliverLogsStatus != ec2.StatusFailed || fl.DeliverLogsErrorMessage != ec2.ErrAccess {
		t.Errorf("status %q %q, want FAILED Access error", fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage)
	}
	if names, _ := e.m.spool.list(); len(names) != 0 {
		t.Errorf("refused window kept in the spool: %v", names)
	}
}

func TestLateRecordsOfADeliveredWindowAreDelivered(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "late", role, "", 600)
	s := t0.Unix()
	e.deliver(t0.Add(300*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s+240))
	e.pass(t0.Add(603 * time.Second))
	// A capture that closed its window late hands over more of it.
	e.deliver(t0.Add(610*time.Second), flow(eniA, "10.0.1.21", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s+540))
	e.pass(t0.Add(611 * time.Second))
	if n := len(e.messages("late", eniA+"-all")); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

func TestDeletedFlowLogReleasesTheSpool(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "g", role, "", 600)
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix()))
	e.pass(t0.Add(63 * time.Second))
	if names, _ := e.m.spool.list(); len(names) != 1 {
		t.Fatalf("spool %v, want the file the open ten-minute window needs", names)
	}
	e.fls.remove("fl-00000000000000001")
	e.pass(t0.Add(64 * time.Second))
	if names, _ := e.m.spool.list(); len(names) != 0 {
		t.Errorf("spool %v after the only flow log was deleted", names)
	}
	if len(e.m.state) != 0 {
		t.Errorf("state of a deleted flow log kept: %v", e.m.state)
	}
}

func TestIPv6AndOtherInterfacesFiltered(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", sub2, "ALL", "s2", role, "", 60)
	r := flow(eniC, "2001:db8::1", "2001:db8::2", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix())
	r.Type = flowlog.TypeIPv6
	unknown := flow("eni-0ddddddddddddddd4", "10.9.9.9", "10.9.9.8", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix())
	e.deliver(t0.Add(60*time.Second), r, unknown, flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix()))
	e.pass(t0.Add(63 * time.Second))
	if got := e.streams("s2"); len(got) != 1 || got[0] != eniC+"-all" {
		t.Errorf("streams %v, want only %s-all", got, eniC)
	}
	if got := e.messages("s2", eniC+"-all"); len(got) != 1 || !strings.Contains(got[0], " "+eniC+" 2001:db8::1 2001:db8::2 1 2 6 ") {
		t.Errorf("messages %v", got)
	}
}

func TestRecordWithoutStartKeepsAValidTimestamp(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "nostart", role, "", 60)
	r := flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, t0.Unix())
	r.Start = flowlog.NA
	e.deliver(t0.Add(61*time.Second), r)
	e.pass(t0.Add(123 * time.Second)) // without a start, the window is the end's
	evs := e.events("nostart", eniA+"-all")
	if len(evs) != 1 || evs[0].Timestamp != (t0.Unix()+60)*1000 {
		t.Fatalf("events %+v, want one at the record's end", evs)
	}
	if fl := e.fls.get("fl-00000000000000001"); fl.DeliverLogsStatus != ec2.StatusSuccess {
		t.Errorf("status %q %q", fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage)
	}
}

func TestCrashAfterWritingBeforeSavingDeliversOnce(t *testing.T) {
	e := newEnv(t)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", eniA, "ALL", "once", role, "", 60)
	s := t0.Unix()
	in := flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s)
	out := in
	out.FlowDirection = flowlog.DirEgress // the same line in the default format
	other := flow(eniA, "10.0.1.21", "10.0.1.10", 3, 4, flowlog.ActionReject, 1, 40, s)
	e.deliver(t0.Add(60*time.Second), in, out, other)
	e.m.crashAfterDeliver = true
	e.pass(t0.Add(63 * time.Second))
	if n := len(e.messages("once", eniA+"-all")); n != 3 {
		t.Fatalf("%d events written before the crash, want 3", n)
	}
	e.open() // restart: the window is replayed, in flight
	e.pass(t0.Add(70 * time.Second))
	if got := e.messages("once", eniA+"-all"); len(got) != 3 || got[0] != got[1] {
		t.Errorf("after the replay %q, want the 3 events once each (two of them identical)", got)
	}
	if names, _ := e.m.spool.list(); len(names) != 0 {
		t.Errorf("spool %v after the replay", names)
	}
	if st := e.m.state["fl-00000000000000001"]; st == nil || len(st.InFlight) != 0 {
		t.Errorf("in-flight chunks left: %+v", st)
	}
}
