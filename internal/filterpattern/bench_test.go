package filterpattern

import (
	"fmt"
	"testing"
)

// Default-format (version 2) VPC flow log records, the events flowwatch sees most.
var flowLines = []string{
	"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
	"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
	"2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.9.12 49761 22 6 1 40 1418530010 1418530070 REJECT OK",
	"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
}

var flowJSON = []string{
	`{"version":2,"account_id":"123456789010","interface_id":"eni-1235b8ca123456789","srcaddr":"172.31.16.139","dstaddr":"172.31.16.21","srcport":20641,"dstport":22,"protocol":6,"packets":20,"bytes":4249,"start":1418530010,"end":1418530070,"action":"ACCEPT","log_status":"OK"}`,
	`{"version":2,"account_id":"123456789010","interface_id":"eni-1235b8ca123456789","srcaddr":"203.0.113.12","dstaddr":"172.31.9.12","srcport":49761,"dstport":22,"protocol":6,"packets":1,"bytes":40,"start":1418530010,"end":1418530070,"action":"REJECT","log_status":"OK"}`,
}

const (
	benchTerms = `REJECT -NODATA "172.31.9.12"`
	benchDelim = `[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport=22, protocol=6, packets, bytes >= 10, start, end, action="REJECT", logstatus]`
	benchJSON  = `{ $.dstport = 22 && $.action = "REJECT" && ($.bytes > 10 || $.packets NOT EXISTS) }`
)

func benchMatch(b *testing.B, pattern string, lines []string, want int) {
	p := MustCompile(pattern)
	n := 0
	for _, l := range lines {
		if p.Match(l) {
			n++
		}
	}
	if n != want {
		b.Fatalf("%s matched %d of the lines, want %d", pattern, n, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p.Match(lines[i%len(lines)])
	}
}

func BenchmarkMatchVPC(b *testing.B) {
	b.Run("terms", func(b *testing.B) { benchMatch(b, benchTerms, flowLines, 2) })
	b.Run("delimited", func(b *testing.B) { benchMatch(b, benchDelim, flowLines, 1) })
	b.Run("json/flowlines", func(b *testing.B) { benchMatch(b, benchJSON, flowLines, 0) })
	b.Run("json/jsonrecords", func(b *testing.B) { benchMatch(b, benchJSON, flowJSON, 1) })
	b.Run("regex", func(b *testing.B) { benchMatch(b, `%REJECT\sOK$%`, flowLines, 2) })
}

func BenchmarkCompile(b *testing.B) {
	for _, pat := range []string{benchTerms, benchDelim, benchJSON} {
		b.Run(fmt.Sprintf("%.8s", pat), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(pat); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Matching term and space-delimited patterns must not allocate: they run on every ingested
// event for every metric and subscription filter.
func TestMatchDoesNotAllocate(t *testing.T) {
	for _, pat := range []string{benchTerms, benchDelim, benchJSON, "?ACCEPT ?REJECT", "[..., action = REJECT || action = ACCEPT, status]"} {
		p := MustCompile(pat)
		for _, l := range flowLines {
			if n := testing.AllocsPerRun(100, func() { p.Match(l) }); n != 0 {
				t.Errorf("%s: Match(%q) allocates %v times", pat, l, n)
			}
		}
	}
}
