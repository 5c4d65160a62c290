package flowfile

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/flowwatch/flowwatch/internal/flowgen"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/insights"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// kcFormat is the 27-field custom format of the knowledge-center article.
const kcFormat = "${account-id} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${srcport} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${start} ${end} ${flow-direction} ${traffic-path} ${tcp-flags} ${pkt-srcaddr} ${pkt-src-aws-service} ${pkt-dstaddr} ${pkt-dst-aws-service} ${region} ${az-id} ${sublocation-type} ${sublocation-id}"

// genText returns n flowgen records of format f as text (header first when
// asked) and as lines.
func genText(t *testing.T, f *flowlog.Format, n uint64, header bool) ([]byte, []string) {
	t.Helper()
	g, err := flowgen.New(flowgen.Config{Seed: 7, Interfaces: 8, Peers: 50})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := flowgen.WriteText(&b, g, f, n, header); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if header {
		lines = lines[1:]
	}
	return b.Bytes(), lines
}

func gz(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func readAll(t *testing.T, path string) []logstore.StoredEvent {
	t.Helper()
	var out []logstore.StoredEvent
	err := ReadFile(context.Background(), path, 100, nil, func(evs []logstore.StoredEvent) error {
		out = append(out, evs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runQuery(t *testing.T, text string, files ...string) *insights.Result {
	t.Helper()
	q, err := insights.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	files, err = Expand(files)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&insights.Engine{}).Run(context.Background(), insights.Request{Query: q,
		Targets: []insights.Target{{Group: "files", Log: "0:files", Source: &Source{Files: files, BlockRows: 300}}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGzipCustomFormatWithHeader(t *testing.T) {
	f := flowlog.MustParseFormat(kcFormat)
	text, lines := genText(t, f, 2000, true)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.log.gz")
	os.WriteFile(path, gz(t, text), 0o644)
	evs := readAll(t, path)
	if len(evs) != len(lines) {
		t.Fatalf("%d events from %d records", len(evs), len(lines))
	}
	for i, e := range evs {
		tok := strings.Split(lines[i], " ")
		start, _ := strconv.ParseInt(tok[14], 10, 64)
		if e.Message != lines[i] || e.Timestamp != start*1000 || e.Stream != tok[3] {
			t.Fatalf("event %d = %+v, want %q at %d in %s", i, e, lines[i], start*1000, tok[3])
		}
	}
	// The knowledge-center query on it, against sums computed here.
	// A direction whose records all lack bytes (NODATA) is a group with
	// no sum: its row has no b cell.
	want := map[string]string{}
	sums := map[string]int64{}
	for _, l := range lines {
		tok := strings.Split(l, " ")
		if _, ok := want[tok[16]]; !ok {
			want[tok[16]] = ""
		}
		if b, err := strconv.ParseInt(tok[11], 10, 64); err == nil {
			sums[tok[16]] += b
			want[tok[16]] = strconv.FormatInt(sums[tok[16]], 10)
		}
	}
	stars := strings.TrimSpace(strings.Repeat("* ", 27))
	res := runQuery(t, `parse @message "`+stars+`" as account_id, vpc_id, subnet_id, interface_id, instance_id, srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status, start, end, flow_direction, traffic_path, tcp_flags, pkt_srcaddr, pkt_src_aws_service, pkt_dstaddr, pkt_dst_aws_service, region, az_id, sublocation_type, sublocation_id
| stats sum(bytes) as b by flow_direction`, path)
	if len(res.Rows) != len(want) {
		t.Fatalf("rows %v, want %v", res.Rows, want)
	}
	for _, row := range res.Rows {
		got := ""
		if len(row) > 1 {
			got = row[1].Value
		}
		if w, ok := want[row[0].Value]; !ok || got != w {
			t.Errorf("%s: %q, want %q", row[0].Value, got, w)
		}
	}
	if res.Statistics.RecordsScanned != float64(len(lines)) {
		t.Errorf("scanned %v", res.Statistics.RecordsScanned)
	}
}

// writeParquet writes lines of format f as AWS's Parquet flow logs: one
// column per field named with underscores, INT_32/INT_64 optional for the
// integer fields (null where the text has "-"), strings otherwise.
func writeParquet(t *testing.T, path string, f *flowlog.Format, lines []string) {
	t.Helper()
	cols := f.Columns()
	var sf []reflect.StructField
	for i, c := range cols {
		var typ reflect.Type
		switch c.Parquet {
		case flowlog.ParquetInt32:
			typ = reflect.TypeFor[*int32]()
		case flowlog.ParquetInt64:
			typ = reflect.TypeFor[*int64]()
		default:
			typ = reflect.TypeFor[string]()
		}
		sf = append(sf, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: typ, Tag: reflect.StructTag(`parquet:"` + c.Name + `,optional"`)})
		if typ.Kind() != reflect.Pointer {
			sf[i].Tag = reflect.StructTag(`parquet:"` + c.Name + `"`)
		}
	}
	typ := reflect.StructOf(sf)
	schema := parquet.SchemaOf(reflect.New(typ).Elem().Interface())
	var b bytes.Buffer
	w := parquet.NewWriter(&b, schema, parquet.Compression(&parquet.Gzip))
	for _, l := range lines {
		tok := strings.Split(l, " ")
		row := reflect.New(typ).Elem()
		for i, c := range cols {
			v := tok[f.Index(c.Field)]
			switch c.Parquet {
			case flowlog.ParquetInt32, flowlog.ParquetInt64:
				if v == "-" {
					continue
				}
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				p := reflect.New(row.Field(i).Type().Elem())
				p.Elem().SetInt(n)
				row.Field(i).Set(p)
			default:
				row.Field(i).SetString(v)
			}
		}
		if err := w.Write(row.Interface()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
}

func TestParquetAWSSchema(t *testing.T) {
	defaultFormat := "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
	for _, format := range []string{defaultFormat, kcFormat} {
		f := flowlog.MustParseFormat(format)
		_, lines := genText(t, f, 3000, false)
		hasNull := false
		for _, l := range lines {
			if strings.Contains(l, " - ") {
				hasNull = true
			}
		}
		if !hasNull {
			t.Fatal("no record with absent fields: the null path is untested")
		}
		path := filepath.Join(t.TempDir(), "flows.parquet")
		writeParquet(t, path, f, lines)
		evs := readAll(t, path)
		if len(evs) != len(lines) {
			t.Fatalf("%s: %d events from %d rows", format, len(evs), len(lines))
		}
		si, ii := f.Index(flowlog.FieldStart), f.Index(flowlog.FieldInterfaceID)
		for i, e := range evs {
			tok := strings.Split(lines[i], " ")
			start, _ := strconv.ParseInt(tok[si], 10, 64)
			if e.Message != lines[i] || e.Timestamp != start*1000 || e.Stream != tok[ii] {
				t.Fatalf("%s: row %d = %+v, want %q", format, i, e, lines[i])
			}
		}
	}
}

func TestNDJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	content := `{"timestamp": 1762000000123, "message": "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1762000000 1762000060 ACCEPT OK", "logStream": "eni-1"}
{"level": "ERROR", "@timestamp": "2026-11-01T00:00:01.5Z", "msg": "boom"}

{"level": "INFO", "msg": "no time"}
not json at all
`
	os.WriteFile(path, []byte(content), 0o644)
	st, _ := os.Stat(path)
	evs := readAll(t, path)
	if len(evs) != 4 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	if e := evs[0]; e.Timestamp != 1762000000123 || e.Stream != "eni-1" || !strings.HasPrefix(e.Message, "2 1 eni-1") {
		t.Errorf("CloudWatch-style event: %+v", e)
	}
	if e := evs[1]; e.Timestamp != time.Date(2026, 11, 1, 0, 0, 1, 5e8, time.UTC).UnixMilli() || e.Message != `{"level": "ERROR", "@timestamp": "2026-11-01T00:00:01.5Z", "msg": "boom"}` || e.Stream != "events.ndjson" {
		t.Errorf("JSON line: %+v", e)
	}
	if e := evs[2]; e.Timestamp != st.ModTime().UnixMilli() {
		t.Errorf("no time: %+v", e)
	}
	res := runQuery(t, `filter level = "ERROR" | fields msg`, path)
	if len(res.Rows) != 1 || res.Rows[0][0].Value != "boom" {
		t.Errorf("JSON fields: %v", res.Rows)
	}
}

func TestExpandS3Tree(t *testing.T) {
	dir := t.TempDir()
	g, err := flowgen.New(flowgen.Config{Seed: 3, Interfaces: 4, Peers: 20, Rate: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := flowlog.MustParseFormat("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")
	paths, err := flowgen.WriteS3(dir, g, f, 1500, flowgen.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a log"), 0o644)
	got, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(paths) {
		t.Fatalf("Expand = %v, want %v", got, paths)
	}
	res := runQuery(t, "stats count(*) as n, count_distinct(interfaceId) as e", dir)
	if res.Rows[0][0].Value != "1500" || res.Rows[0][1].Value != "4" {
		t.Errorf("S3 tree: %v", res.Rows)
	}
	if _, err := Expand([]string{t.TempDir()}); err == nil {
		t.Error("an empty directory is an error")
	}
}

func TestSourceCancel(t *testing.T) {
	f := flowlog.MustParseFormat("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")
	text, _ := genText(t, f, 5000, false)
	dir := t.TempDir()
	var files []string
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.log", i))
		os.WriteFile(p, text, 0o644)
		files = append(files, p)
	}
	src := &Source{Files: files, BlockRows: 100}
	stop := fmt.Errorf("enough")
	var mu sync.Mutex
	n := 0
	err := src.Scan(context.Background(), logstore.ScanQuery{}, func(b *logstore.Block) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "enough") {
		t.Fatalf("Scan returned %v", err)
	}
	if p := src.Progress(); p.Records >= 4*5000 {
		t.Errorf("scan went on after the error: %+v", p)
	}
}

// FuzzLines feeds arbitrary files through the line reader: it must not
// panic, every event's message is one input line (trimmed of \r), and no
// more events come out than there are lines.
func FuzzLines(f *testing.F) {
	f.Add([]byte("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 40 100 160 ACCEPT OK\n"))
	f.Add([]byte("{\"message\":\"x\",\"timestamp\":5}\n{\"a\":1}\n"))
	f.Add([]byte("start\n1 2 3\r\n\n- - -"))
	f.Add([]byte("interface-id start\n eni 12\n-  -\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{KindText, KindNDJSON} {
			rd := NewReader(kind, 42, "s")
			var got []logstore.StoredEvent
			err := ReadLines(context.Background(), bytes.NewReader(data), rd, 3, func(evs []logstore.StoredEvent) error {
				got = append(got, evs...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(string(data), "\n") {
				lines[strings.TrimSuffix(l, "\r")] = true
			}
			if len(got) > len(lines)+strings.Count(string(data), "\n") {
				t.Fatalf("%d events from %d lines", len(got), len(lines))
			}
			for _, e := range got {
				if e.Stream == "" {
					t.Fatalf("event without a stream: %+v", e)
				}
				// NDJSON events may carry their "message" member instead.
				if !rd.json && !lines[e.Message] {
					t.Fatalf("message %q is not a line of the input", e.Message)
				}
			}
		}
	})
}
