package flowlog

import (
	"bufio"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for i, fs := range Catalogue {
		if int(fs.ID) != i || fs.Name == "" || seen[fs.Name] {
			t.Fatalf("bad entry %d: %+v", i, fs)
		}
		seen[fs.Name] = true
		if strings.Contains(fs.Column, "-") {
			t.Errorf("%s: column %q has a hyphen", fs.Name, fs.Column)
		}
		if fs.Kind == KindInt && fs.Parquet == ParquetString {
			t.Errorf("%s: integer field with STRING Parquet type", fs.Name)
		}
	}
	want := map[string]struct {
		ver int
		pq  ParquetType
	}{
		"version": {2, ParquetInt32}, "packets": {2, ParquetInt64}, "bytes": {2, ParquetInt64},
		"protocol": {2, ParquetInt32}, "tcp-flags": {3, ParquetInt32}, "pkt-srcaddr": {3, ParquetString},
		"az-id": {4, ParquetString}, "pkt-src-aws-service": {5, ParquetString}, "traffic-path": {5, ParquetInt32},
		"tgw-id": {6, ParquetString}, "packets-lost-no-route": {6, ParquetInt64}, "ecs-task-id": {7, ParquetString},
		"reject-reason": {8, ParquetString}, "resource-id": {9, ParquetString}, "encryption-status": {10, ParquetInt32},
		"next-hop-vpc-id": {11, ParquetString},
	}
	for name, w := range want {
		fs, ok := Lookup(name)
		if !ok || fs.Version != w.ver || fs.Parquet != w.pq {
			t.Errorf("%s: got %+v, want version %d %s", name, fs, w.ver, w.pq)
		}
	}
	if fs, _ := Lookup("pkt-src-aws-service"); fs.Column != "pkt_src_aws_service" {
		t.Errorf("column = %q", fs.Column)
	}
	if fs, _ := Lookup("log-status"); fs.Insights != "logStatus" || !fs.Discovered {
		t.Errorf("log-status insights = %+v", fs)
	}
	if fs, _ := Lookup("vpc-id"); fs.Discovered {
		t.Error("vpc-id must not be auto-discovered")
	}
	if _, ok := Lookup("startTime"); ok {
		t.Error("unknown name found")
	}
}

func TestParseFormatVersion(t *testing.T) {
	for _, c := range []struct {
		format  string
		version int
	}{
		{DefaultFormatString, 2},
		{"${srcaddr}", 2},
		{"${version} ${vpc-id}", 3},
		{"${version} ${srcaddr} ${region} ${tcp-flags}", 4},
		{KnowledgeCenterFormatString, 5},
		{"${version} ${reject-reason}", 8},
		{"${ecs-task-id} ${version}", 7},
		{"${encryption-status}", 10},
	} {
		f, err := ParseFormat(c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if f.Version() != c.version || f.String() != c.format {
			t.Errorf("%q: version %d, want %d", c.format, f.Version(), c.version)
		}
	}
	if !DefaultFormat.IsDefault() || DefaultFormat.Len() != 14 {
		t.Error("default format not recognised")
	}
	kc := MustParseFormat(KnowledgeCenterFormatString)
	if kc.Len() != 27 || kc.Has(FieldVersion) || kc.IsDefault() || kc.Index(FieldSrcAddr) != 5 {
		t.Errorf("knowledge-center format: len %d has version %v", kc.Len(), kc.Has(FieldVersion))
	}
	if got := DefaultFormat.Header(); got != "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status" {
		t.Errorf("header = %q", got)
	}
	hf, err := FormatFromHeader(kc.Header()+"\n", ParseOptions{})
	if err != nil || hf.String() != KnowledgeCenterFormatString {
		t.Errorf("FormatFromHeader: %v %v", hf, err)
	}
}

func TestParseFormatErrors(t *testing.T) {
	for _, c := range []struct{ format, reason string }{
		{"", "empty"},
		{DefaultFormatString + " ", "trailing space"},
		{"${version}  ${srcaddr}", "exactly one space"},
		{"${version}${srcaddr}", "separated by a space"},
		{"${version},${srcaddr}", "separated by a space"},
		{"${foo}", "unknown field"},
		{"${version} ${startTime}", "invalid field name"},
		{"$${version}", "expected ${field}"},
		{"{version}", "expected ${field}"},
		{"${version", "missing closing brace"},
		{"${}", "invalid field name"},
		{"version srcaddr", "expected ${field}"},
		{" ${version}", "exactly one space"},
		{"${version}\t${srcaddr}", "separated by a space"},
		{"${tgw-id}", "transit gateway"},
		{"${next-hop-vpc-id}", "not supported"},
	} {
		_, err := ParseFormat(c.format)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("%q: err = %v, want FormatError", c.format, err)
		}
		if !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%q: reason %q, want %q", c.format, fe.Reason, c.reason)
		}
		want := "1 validation error detected: Value '" + c.format + "' at 'logFormat' has an invalid format"
		if err.Error() != want || fe.Code() != "InvalidParameterValue" {
			t.Errorf("%q: error text %q", c.format, err)
		}
	}
	// Duplicates are accepted (spec §2.2 recommendation) and the first
	// position is the field's index.
	f, err := ParseFormat("${srcaddr} ${dstaddr} ${srcaddr}")
	if err != nil || f.Len() != 3 || f.Index(FieldSrcAddr) != 0 {
		t.Fatalf("duplicate: %v %v", f, err)
	}
	if _, err := ParseFormatOptions("${version} ${tgw-id} ${next-hop-vpc-id}", ParseOptions{TransitGateway: true, Unverified: true}); err != nil {
		t.Fatalf("options: %v", err)
	}
}

// TestGolden decodes every example line of the spec and re-encodes it byte
// for byte.
func TestGolden(t *testing.T) {
	fh, err := os.Open("testdata/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var f *Format
	n := 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if s, ok := strings.CutPrefix(line, "format: "); ok {
			if f, err = ParseFormat(s); err != nil {
				t.Fatalf("format %q: %v", s, err)
			}
			continue
		}
		rec, err := ParseLine(line, f)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got := string(AppendText(nil, &rec, f)); got != line {
			t.Errorf("round trip\n got %s\nwant %s", got, line)
		}
		n++
	}
	if n != 18 {
		t.Fatalf("golden lines = %d", n)
	}
}

func TestDecodeValues(t *testing.T) {
	r, err := ParseLine("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n", DefaultFormat)
	if err != nil {
		t.Fatal(err)
	}
	want := Blank()
	want.Version, want.AccountID, want.InterfaceID = 2, "123456789010", "eni-1235b8ca123456789"
	want.SrcAddr, want.DstAddr = netip.MustParseAddr("172.31.16.139"), netip.MustParseAddr("172.31.16.21")
	want.SrcPort, want.DstPort, want.Protocol, want.Packets, want.Bytes = 20641, 22, 6, 20, 4249
	want.Start, want.End, want.Action, want.LogStatus = 1418530010, 1418530070, ActionAccept, StatusOK
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if v, ok := r.Int(FieldBytes); !ok || v != 4249 {
		t.Errorf("Int(bytes) = %d %v", v, ok)
	}
	if _, ok := r.Int(FieldTCPFlags); ok {
		t.Error("tcp-flags should be absent")
	}

	nd, err := ParseLine("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA", DefaultFormat)
	if err != nil {
		t.Fatal(err)
	}
	if nd.SrcAddr.IsValid() || nd.SrcPort != NA || nd.Packets != NA || nd.Action != ActionNone || nd.LogStatus != StatusNoData || nd.Start != 1431280876 {
		t.Errorf("NODATA decoded as %+v", nd)
	}

	v5 := MustParseFormat("${version} ${srcaddr} ${tcp-flags} ${type} ${flow-direction} ${traffic-path} ${pkt-dst-aws-service}")
	r5, err := ParseLine("5 10.0.0.71 3 IPv4 egress 8 S3", v5)
	if err != nil {
		t.Fatal(err)
	}
	if r5.Version != 5 || r5.TCPFlags != 3 || r5.Type != TypeIPv4 || r5.FlowDirection != DirEgress || r5.TrafficPath != 8 || r5.PktDstAWSService != "S3" {
		t.Errorf("v5 decoded as %+v", r5)
	}
}

func TestEncodeBuilt(t *testing.T) {
	r := Blank()
	r.AccountID, r.InterfaceID = "123456789012", "eni-0f1e2d3c4b5a69788"
	r.Start, r.End, r.LogStatus = 1718013720, 1718013779, StatusNoData
	r.Version = 99 // ignored: the format decides
	if got := string(AppendText(nil, &r, DefaultFormat)); got != "2 123456789012 eni-0f1e2d3c4b5a69788 - - - - - - - 1718013720 1718013779 - NODATA" {
		t.Errorf("NODATA = %q", got)
	}
	f := MustParseFormat("${version} ${reject-reason} ${action} ${srcaddr}")
	r.RejectReason, r.Action, r.SrcAddr = "BPA", ActionReject, netip.MustParseAddr("2001:db8::1")
	if got := string(AppendText([]byte("x "), &r, f)); got != "x 8 BPA REJECT 2001:db8::1" {
		t.Errorf("v8 = %q", got)
	}
	r.ClearFlow()
	if got := string(AppendText(nil, &r, f)); got != "8 - - -" {
		t.Errorf("cleared = %q", got)
	}
	if got := string(AppendField(nil, &r, FieldAccountID)); got != "123456789012" {
		t.Errorf("AppendField = %q", got)
	}
}

func TestParseLineErrors(t *testing.T) {
	f := MustParseFormat("${version} ${srcaddr} ${srcport} ${action}")
	for _, c := range []struct {
		line  string
		field FieldID
		count bool
	}{
		{"", 0, true},
		{"2 1.2.3.4 80", 0, true},
		{"2 1.2.3.4 80 ACCEPT extra", 0, true},
		{"2 1.2.3.4 80 ACCEPT ", 0, true},
		{"2  1.2.3.4 80 ACCEPT", FieldSrcAddr, false},
		{"2 1.2.3.400 80 ACCEPT", FieldSrcAddr, false},
		{"2 1.2.3.4 -80 ACCEPT", FieldSrcPort, false},
		{"2 1.2.3.4 +80 ACCEPT", FieldSrcPort, false},
		{"2 1.2.3.4 2147483648 ACCEPT", FieldSrcPort, false},
		{"x 1.2.3.4 80 ACCEPT", FieldVersion, false},
		{"2 1.2.3.4 80 accept", FieldAction, false},
	} {
		_, err := ParseLine(c.line, f)
		var le *LineError
		if !errors.As(err, &le) {
			t.Fatalf("%q: err = %v", c.line, err)
		}
		if c.count != errors.Is(err, ErrFieldCount) || (!c.count && le.Field != c.field) {
			t.Errorf("%q: %v", c.line, err)
		}
	}
	g := MustParseFormat("${account-id}")
	if _, err := ParseLine("a\x01b", g); err == nil {
		t.Error("control character accepted")
	}
	var r Record
	if err := r.SetField(FieldPackets, "12"); err != nil || r.Packets != 12 {
		t.Errorf("SetField: %v %d", err, r.Packets)
	}
}

func BenchmarkAppendTextDefault(b *testing.B) {
	r, _ := ParseLine("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", DefaultFormat)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], &r, DefaultFormat)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseLineDefault(b *testing.B) {
	line := "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
	var r Record
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if err := ParseLineInto(&r, line, DefaultFormat); err != nil {
			b.Fatal(err)
		}
	}
}

func TestColumns(t *testing.T) {
	cols := DefaultFormat.Columns()
	if len(cols) != 14 || cols[1].Name != "account_id" || cols[1].Parquet != ParquetString || cols[1].Optional {
		t.Fatalf("columns %+v", cols[:2])
	}
	if c := cols[8]; c.Name != "packets" || c.Parquet != ParquetInt64 || !c.Optional || c.Athena != "bigint" {
		t.Errorf("packets column %+v", c)
	}
	want := "`version` int, `account_id` string, `interface_id` string, `srcaddr` string, `dstaddr` string, `srcport` int, `dstport` int, `protocol` bigint, `packets` bigint, `bytes` bigint, `start` bigint, `end` bigint, `action` string, `log_status` string"
	if got := DefaultFormat.AthenaColumns(); got != want {
		t.Errorf("athena columns\n got %s\nwant %s", got, want)
	}
	dup := MustParseFormat("${srcaddr} ${srcaddr} ${tcp-flags}")
	if c := dup.Columns(); len(c) != 2 || c[1].Name != "tcp_flags" || c[1].Parquet != ParquetInt32 {
		t.Errorf("duplicate columns %+v", c)
	}
}
