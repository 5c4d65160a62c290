package collector

import (
	"testing"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// FuzzDecode feeds arbitrary datagrams to one decoder (so templates from
// earlier inputs meet later data) and maps whatever comes out: it must
// never panic, and every flow must map to a record that encodes.
func FuzzDecode(f *testing.F) {
	for _, s := range [][]byte{v5Datagram(), v9Template(), v9Data(2, v9Rec{src: "10.0.0.1", dst: "10.0.0.2", pkts: 1, bytes: 60}),
		append(v9Template(), v9Data(3, v9Rec{src: "10.0.0.1", dst: "10.0.0.2", pkts: 1, bytes: 60})[20:]...),
		ipfixDatagram(), sflowDatagram()} {
		f.Add(s)
	}
	d := NewDecoder()
	var r flowlog.Record
	var line []byte
	f.Fuzz(func(t *testing.T, b []byte) {
		flows, _ := d.Decode(nil, exp, b, nowMs)
		for i := range flows {
			Identity{}.Record(&r, &flows[i])
			line = flowlog.AppendText(line[:0], &r, flowlog.DefaultFormat)
			if _, err := flowlog.ParseLine(string(line), flowlog.DefaultFormat); err != nil {
				t.Fatalf("record %q does not parse back: %v", line, err)
			}
		}
	})
}
