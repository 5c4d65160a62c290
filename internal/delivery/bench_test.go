package delivery

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// BenchmarkWindow measures one closed one-minute window of 20,000 flows on
// two interfaces going through the spool to a CloudWatch Logs flow log and
// a Parquet S3 flow log: ns/op is per window, records/s is the rate.
func BenchmarkWindow(b *testing.B) {
	const flows = 20000
	e := newEnv(b)
	role := e.role("r", trustDoc, permsDoc)
	e.cwlFlowLog("fl-00000000000000001", vpc, "ALL", "bench", role, "", 60)
	e.s3FlowLog("fl-00000000000000002", vpc, "arn:aws:s3:::bench", flowlog.KnowledgeCenterFormatString, 60, ec2.DestinationOptions{FileFormat: "parquet"})
	recs := make([]flowlog.Record, flows)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := t0.Unix() + int64(i)*60
		for j := range recs {
			eni := eniA
			if j%2 == 1 {
				eni = eniB
			}
			recs[j] = flow(eni, fmt.Sprintf("10.1.%d.%d", j/250, j%250), "10.0.1.10", int32(1024+j%60000), 443, flowlog.ActionAccept, 3, 180, start)
			recs[j].PktSrcAddr = netip.Addr{}
		}
		if err := e.m.Deliver(recs); err != nil {
			b.Fatal(err)
		}
		e.clock.Set(time.Unix(start+63, 0))
		if err := e.m.Pass(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(e.messages("bench", eniA+"-all")); n != b.N*flows/2 {
		b.Fatalf("%d events, want %d", n, b.N*flows/2)
	}
	b.ReportMetric(float64(b.N*flows)/b.Elapsed().Seconds(), "records/s")
}
