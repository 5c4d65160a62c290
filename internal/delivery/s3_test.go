package delivery

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

func TestParseS3Destination(t *testing.T) {
	for _, c := range []struct{ arn, bucket, prefix string }{
		{"arn:aws:s3:::my-bucket", "my-bucket", ""},
		{"arn:aws:s3:::my-bucket/", "my-bucket", ""},
		{"arn:aws:s3:::my-bucket/flow/logs/", "my-bucket", "flow/logs"},
	} {
		b, p, ok := ParseS3Destination(c.arn)
		if !ok || b != c.bucket || p != c.prefix {
			t.Errorf("%s: %q %q %v", c.arn, b, p, ok)
		}
	}
	if _, _, ok := ParseS3Destination("arn:aws:logs:us-east-1:1:log-group:g"); ok {
		t.Error("a log group ARN parsed as S3")
	}
}

func TestObjectKeys(t *testing.T) {
	at := time.Date(2018, 6, 20, 16, 20, 0, 0, time.UTC)
	for _, c := range []struct {
		prefix string
		o      S3Options
		want   string
	}{
		{"", S3Options{}, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"},
		{"p/q", S3Options{PerHour: true}, "p/q/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/16/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"},
		{"", S3Options{Hive: true, Parquet: true}, "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2018/month=06/day=20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.parquet"},
		{"x", S3Options{Hive: true, PerHour: true}, "x/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2018/month=06/day=20/hour=16/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"},
	} {
		if got := ObjectKey(c.prefix, "123456789012", "us-east-1", "fl-1234abcd", at, c.o, "fe123456"); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// s3Files returns the object keys under a bucket directory.
func s3Files(t *testing.T, root string) []string {
	t.Helper()
	var keys []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	return keys
}

func TestS3PlainText(t *testing.T) {
	e := newEnv(t)
	e.s3FlowLog("fl-0123456789abcdef0", vpc, "arn:aws:s3:::flow-bucket/vpc/", "", 60, ec2.DestinationOptions{FileFormat: "plain-text"})
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second),
		flow(eniA, "10.0.1.20", "10.0.1.10", 40000, 443, flowlog.ActionAccept, 10, 5120, s),
		flow(eniB, "198.51.100.7", "10.0.1.11", 51234, 22, flowlog.ActionReject, 1, 40, s),
		nodata(eniC, s))
	e.pass(t0.Add(63 * time.Second))
	keys := s3Files(t, filepath.Join(e.dir, "s3", "flow-bucket"))
	if len(keys) != 1 {
		t.Fatalf("objects %v, want one file for every interface of the period", keys)
	}
	re := regexp.MustCompile(`^vpc/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/06/10/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240610T1000Z_[0-9a-f]{8}\.log\.gz$`)
	if !re.MatchString(keys[0]) {
		t.Errorf("key %s does not match %s", keys[0], re)
	}
	zr, err := gzipOpen(filepath.Join(e.dir, "s3", "flow-bucket", keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	want := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" +
		fmt.Sprintf("2 %s %s 10.0.1.20 10.0.1.10 40000 443 6 10 5120 %d %d ACCEPT OK\n", acct, eniA, s, s+60) +
		fmt.Sprintf("2 %s %s 198.51.100.7 10.0.1.11 51234 22 6 1 40 %d %d REJECT OK\n", acct, eniB, s, s+60)
	if zr != want {
		t.Errorf("file contents:\n%s\nwant:\n%s", zr, want)
	}
}

func gzipOpen(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(zr)
	return string(b), err
}

// athenaParquetDDL is the column list of AWS's Parquet Athena table (spec
// §5.5, "Parquet, Hive-compatible, hourly").
const athenaParquetDDL = "`version` int, `account_id` string, `interface_id` string, `srcaddr` string, `dstaddr` string," +
	" `srcport` int, `dstport` int, `protocol` bigint, `packets` bigint, `bytes` bigint," +
	" `start` bigint, `end` bigint, `action` string, `log_status` string, `vpc_id` string," +
	" `subnet_id` string, `instance_id` string, `tcp_flags` int, `type` string, `pkt_srcaddr` string," +
	" `pkt_dstaddr` string, `region` string, `az_id` string, `sublocation_type` string," +
	" `sublocation_id` string, `pkt_src_aws_service` string, `pkt_dst_aws_service` string," +
	" `flow_direction` string, `traffic_path` int"

func TestS3ParquetMatchesAthenaDDL(t *testing.T) {
	// A v5 format with every column of the DDL, in the DDL's order.
	var ddl [][2]string
	var ft []string
	for _, col := range strings.Split(athenaParquetDDL, ",") {
		f := strings.Fields(col)
		name, typ := strings.Trim(f[0], "`"), f[1]
		ddl = append(ddl, [2]string{name, typ})
		ft = append(ft, "${"+strings.ReplaceAll(name, "_", "-")+"}")
	}
	e := newEnv(t)
	e.s3FlowLog("fl-0123456789abcdef0", vpc, "arn:aws:s3:::pq", strings.Join(ft, " "), 60,
		ec2.DestinationOptions{FileFormat: "parquet", HiveCompatiblePartitions: true, PerHourPartition: true})
	s := t0.Unix()
	r := flow(eniA, "10.0.1.20", "10.0.1.10", 40000, 443, flowlog.ActionAccept, 10, 5120, s)
	e.deliver(t0.Add(60*time.Second), r, nodata(eniA, s))
	e.deliver(t0.Add(120*time.Second), nodata(eniA, s+60))
	e.pass(t0.Add(200 * time.Second))
	root := filepath.Join(e.dir, "s3", "pq")
	keys := s3Files(t, root)
	if len(keys) != 2 {
		t.Fatalf("objects %v, want two (one per window)", keys)
	}
	re := regexp.MustCompile(`^AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=06/day=10/hour=10/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240610T10(05|00)Z_[0-9a-f]{8}\.log\.parquet$`)
	for _, k := range keys {
		if !re.MatchString(k) {
			t.Errorf("key %s does not match %s", k, re)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("PAR1")) {
		t.Fatal("not a Parquet file (no outer compression, no header)")
	}
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	fields := pf.Schema().Fields()
	if len(fields) != len(ddl) {
		t.Fatalf("%d columns, the DDL has %d", len(fields), len(ddl))
	}
	for i, f := range fields {
		name, typ := ddl[i][0], ddl[i][1]
		if f.Name() != name {
			t.Errorf("column %d is %s, DDL says %s", i, f.Name(), name)
		}
		if !f.Optional() {
			t.Errorf("column %s is not optional", name)
		}
		kind := f.Type().Kind()
		ok := false
		switch typ {
		case "int":
			ok = kind == parquet.Int32
		case "bigint": // Athena reads INT32 and INT64 as bigint; AWS's table says INT_32 for protocol
			ok = kind == parquet.Int64 || (name == "protocol" && kind == parquet.Int32)
		case "string":
			ok = kind == parquet.ByteArray && f.Type().LogicalType() != nil && f.Type().LogicalType().String() == "STRING"
		}
		if !ok {
			t.Errorf("column %s: Parquet type %v (logical %v) does not fit Athena %s", name, f.Type(), f.Type().LogicalType(), typ)
		}
	}
	if codec := pf.Metadata().RowGroups[0].Columns[0].MetaData.Codec; codec.String() != "GZIP" {
		t.Errorf("codec %v, want GZIP", codec)
	}

	// The rows read back: numeric "-" is null, string "-" is "-".
	type row struct {
		Version   *int32 `parquet:"version"`
		Interface string `parquet:"interface_id"`
		SrcAddr   string `parquet:"srcaddr"`
		SrcPort   *int32 `parquet:"srcport"`
		Protocol  *int32 `parquet:"protocol"`
		Packets   *int64 `parquet:"packets"`
		Start     *int64 `parquet:"start"`
		Action    string `parquet:"action"`
		LogStatus string `parquet:"log_status"`
		VPC       string `parquet:"vpc_id"`
		Traffic   *int32 `parquet:"traffic_path"`
	}
	var all []row
	for _, k := range keys {
		b, _ := os.ReadFile(filepath.Join(root, k))
		rows, err := parquet.Read[row](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	if len(all) != 2 {
		t.Fatalf("%d rows, want the flow and the later NODATA (NODATA of a window with traffic is dropped)", len(all))
	}
	var ok, nd *row
	for i := range all {
		if all[i].LogStatus == "OK" {
			ok = &all[i]
		} else {
			nd = &all[i]
		}
	}
	if ok == nil || nd == nil {
		t.Fatalf("rows %+v", all)
	}
	if *ok.Version != 5 || ok.Interface != eniA || ok.SrcAddr != "10.0.1.20" || *ok.SrcPort != 40000 || *ok.Protocol != 6 ||
		*ok.Packets != 10 || *ok.Start != s || ok.Action != "ACCEPT" || ok.VPC != vpc || ok.Traffic != nil {
		t.Errorf("flow row %+v", *ok)
	}
	if nd.LogStatus != "NODATA" || nd.SrcAddr != "-" || nd.SrcPort != nil || nd.Packets != nil || nd.Action != "-" || *nd.Start != s+60 {
		t.Errorf("NODATA row %+v", *nd)
	}
}

func TestS3TextReadsBackWithHeader(t *testing.T) {
	e := newEnv(t)
	e.s3FlowLog("fl-00000000000000001", eniA, "arn:aws:s3:::b", flowlog.KnowledgeCenterFormatString, 600, ec2.DestinationOptions{})
	s := t0.Unix()
	for i := int64(0); i < 3; i++ {
		e.deliver(time.Unix(s+60*i+60, 0), flow(eniA, "10.0.1.20", "10.0.1.10", 40000, 443, flowlog.ActionAccept, 1, 100, s+60*i))
	}
	e.pass(t0.Add(603 * time.Second))
	keys := s3Files(t, filepath.Join(e.dir, "s3", "b"))
	if len(keys) != 1 {
		t.Fatalf("objects %v", keys)
	}
	text, err := gzipOpen(filepath.Join(e.dir, "s3", "b", keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Scan()
	f := flowlog.MustParseFormat(flowlog.KnowledgeCenterFormatString)
	if sc.Text() != f.Header() {
		t.Errorf("header %q", sc.Text())
	}
	n := 0
	for sc.Scan() {
		r, err := flowlog.ParseLine(sc.Text(), f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Packets != 3 || r.Bytes != 300 || r.Start != s || r.End != s+180 {
			t.Errorf("aggregated record %+v", r)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d records, want 1 (three minutes of one flow in a ten-minute window)", n)
	}
}
