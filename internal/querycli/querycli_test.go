package querycli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/insights"
)

func TestParseQueryTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]int64{
		"now":                      now.UnixMilli(),
		"now-90m":                  now.Add(-90 * time.Minute).UnixMilli(),
		"1793491200":               1793491200000,
		"2026-11-01T00:00:00.250Z": time.Date(2026, 11, 1, 0, 0, 0, 25e7, time.UTC).UnixMilli(),
	} {
		if got, err := ParseTime(in, now); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "now-", "2026-11-01"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func rf(f, v string) insights.ResultField { return insights.ResultField{Field: f, Value: v} }

// The three output formats carry the same cells; rows may lack fields.
func TestPrintResult(t *testing.T) {
	res := &insights.Result{Columns: []string{"srcAddr", "n", "@ptr"}, Rows: [][]insights.ResultField{
		{rf("srcAddr", "10.0.0.1"), rf("n", "12"), rf("@ptr", "p1")},
		{rf("srcAddr", `2001:db8::1, "x"`), rf("@ptr", "p2")},
	}}
	var b bytes.Buffer
	if err := Print(&b, res, Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "srcAddr ") || strings.Contains(b.String(), "p1") {
		t.Fatalf("table:\n%s", b.String())
	}
	col := strings.Index(lines[0], "n")
	if lines[2][col:] != "12" || strings.Index(lines[1], "-  -") != col-3 {
		t.Errorf("columns not aligned:\n%s", b.String())
	}
	b.Reset()
	Print(&b, res, Options{Format: "csv"})
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || fmt.Sprint(recs) != fmt.Sprint([][]string{{"srcAddr", "n"}, {"10.0.0.1", "12"}, {`2001:db8::1, "x"`, ""}}) {
		t.Errorf("csv %v %v", recs, err)
	}
	b.Reset()
	Print(&b, res, Options{Format: "json", Ptr: true})
	var rows []map[string]string
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		t.Fatalf("json %s: %v", b.String(), err)
	}
	if len(rows) != 2 || rows[0]["n"] != "12" || rows[0]["@ptr"] != "p1" || len(rows[1]) != 2 {
		t.Errorf("json rows %v", rows)
	}
	if i, j := strings.Index(b.String(), `"srcAddr"`), strings.Index(b.String(), `"n"`); i > j {
		t.Errorf("json keys out of column order: %s", b.String())
	}
}

// A query on files runs in process: the sums match the records.
func TestQueryFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.log")
	os.WriteFile(path, []byte("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"+
		"2 1 eni-a 10.0.0.1 10.0.0.2 1 22 6 1 100 1793491200 1793491260 REJECT OK\n"+
		"2 1 eni-b 10.0.0.1 10.0.0.3 1 22 6 1 50 1793491260 1793491320 REJECT OK\n"+
		"2 1 eni-a 10.0.0.9 10.0.0.2 1 22 6 1 7 1793491320 1793491380 ACCEPT OK\n"), 0o644)
	res, err := Files(t.Context(), "filter action = 'REJECT' | stats sum(bytes) as b, count_distinct(@logStream) as s, max(@timestamp) as t by srcAddr", []string{path}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 100+50 bytes, two interfaces, the later record's start×1000.
	latest := time.Unix(1793491260, 0).UTC().Format("2006-01-02 15:04:05.000")
	if fmt.Sprint(res.Rows) != "[[{srcAddr 10.0.0.1} {b 150} {s 2} {t "+latest+"}]]" {
		t.Errorf("rows %v", res.Rows)
	}
	_, err = Files(t.Context(), "stats count(*) by", []string{path}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "line 1, column") || !strings.Contains(err.Error(), "^") {
		t.Errorf("malformed: %v", err)
	}
}

func TestTimeRange(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		start, end string
		since      time.Duration
		s, e       int64
		err        string
	}{
		{"", "", 0, 0, 0, ""},
		{"", "", time.Hour, now.Add(-time.Hour).UnixMilli(), now.UnixMilli(), ""},
		{"now-2h", "", 0, now.Add(-2 * time.Hour).UnixMilli(), now.UnixMilli(), ""},
		{"", "1793491200", 0, 0, 1793491200000, ""},
		{"now-1h", "", time.Hour, 0, 0, "--since excludes"},
		{"now", "now-1h", 0, 0, 0, "--end is before --start"},
		{"yesterday", "", 0, 0, 0, "--start:"},
		{"", "soon", 0, 0, 0, "--end:"},
	} {
		s, e, err := TimeRange(c.start, c.end, c.since, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: %v, want %q", c, err, c.err)
			}
			continue
		}
		if err != nil || s != c.s || e != c.e {
			t.Errorf("%+v: %d %d %v", c, s, e, err)
		}
	}
}
