package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Logs Insights through the unmodified aws CLI and boto3 against a real
// `flowwatch serve`: the six knowledge-center queries (logs-insights spec
// §13.3) on the 27-field custom format, checked against values computed
// here from the records themselves, and the API's error paths.

const kcFormat = "${account-id} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${srcport} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${start} ${end} ${flow-direction} ${traffic-path} ${tcp-flags} ${pkt-srcaddr} ${pkt-src-aws-service} ${pkt-dstaddr} ${pkt-dst-aws-service} ${region} ${az-id} ${sublocation-type} ${sublocation-id}"

var kcNames = strings.Split("account_id vpc_id subnet_id interface_id instance_id srcaddr srcport dstaddr dstport protocol packets bytes action log_status start end flow_direction traffic_path tcp_flags pkt_srcaddr pkt_src_aws_service pkt_dstaddr pkt_dst_aws_service region az_id sublocation_type sublocation_id", " ")

// kcParse is the article's parse command, verbatim (note "interface_id,instance_id").
const kcParse = `parse @message "* * * * * * * * * * * * * * * * * * * * * * * * * * *" as account_id, vpc_id, subnet_id, interface_id,instance_id, srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status, start, end, flow_direction, traffic_path, tcp_flags, pkt_srcaddr, pkt_src_aws_service, pkt_dstaddr, pkt_dst_aws_service, region, az_id, sublocation_type, sublocation_id`

const kcPair = `filter srcaddr in ["172.31.1.247","172.31.11.212"] and dstaddr in ["172.31.1.247","172.31.11.212"] and protocol = 6 and (dstport = 80 or srcport=80)`

// kcQueries are the six queries of the article.
var kcQueries = []string{
	"#Retrieve latest custom VPC Flow Logs\n" + kcParse + "\n| sort start desc\n| limit 2",
	kcParse + "\n| stats sum(bytes) as Data_Transferred by srcaddr, dstaddr, flow_direction\n| sort by Data_Transferred desc\n| limit 2",
	kcParse + "\n| stats sum(bytes) as Data_Transferred by instance_id\n| sort by Data_Transferred desc\n| limit 5",
	kcParse + "\n| filter action = \"REJECT\" and protocol = 6 and dstport = 22\n| stats sum(bytes) as SSH_Traffic_Volume by srcaddr\n| sort by SSH_Traffic_Volume desc\n| limit 2",
	"#HTTP Data Stream for Specific Source/Destination Pair\n" + kcParse + "\n| " + kcPair + "\n| display interface_id,srcaddr, srcport, dstaddr, dstport, protocol, bytes, action, log_status, start, end, flow_direction, tcp_flags\n| sort by start desc\n| limit 2",
	kcParse + "\n| " + kcPair + "\n| stats sum(bytes) as Data_Transferred by bin(1m)",
}

// insightsData is a store with group "kc" (27-field records from flowgen
// plus hand-made HTTP and SSH flows the article's filters select) and group
// "vpc" (default format), loaded with `flowwatch import`.
type insightsData struct {
	dataDir    string
	kcFile     string
	kc         []map[string]string // parsed records of group kc
	start, end int64               // epoch seconds covering everything
}

func newInsightsData(t *testing.T) *insightsData {
	t.Helper()
	dir := t.TempDir()
	d := &insightsData{dataDir: filepath.Join(dir, "data"), kcFile: filepath.Join(dir, "kc.log")}
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("flowwatch %v: %v\n%s", args, err, out)
		}
	}
	run("gen", "--records", "3000", "--rate", "4", "--interfaces", "12", "--peers", "300", "--start", base.Format(time.RFC3339),
		"--format", kcFormat, "--header", "--out", d.kcFile)
	run("gen", "--records", "2000", "--rate", "4", "--start", base.Format(time.RFC3339), "--out", filepath.Join(dir, "vpc.log"))
	// Hand-made records: HTTP both ways between the article's pair, across
	// several minutes, and rejected SSH (one UDP, which the query excludes).
	f, err := os.OpenFile(d.kcFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	pair := []string{"172.31.1.247", "172.31.11.212"}
	for i := range 12 {
		src, dst := pair[i%2], pair[(i+1)%2]
		sport, dport, dir := 80, 40000+i, "egress"
		if i%3 != 0 {
			sport, dport, dir = 40000+i, 80, "ingress"
		}
		st := base.Unix() + 30 + int64(i)*47
		fmt.Fprintf(f, "123456789012 vpc-0kc subnet-0kc eni-0kc%d i-0kc%d %s %d %s %d 6 %d %d ACCEPT OK %d %d %s 1 %d %s - %s - us-east-1 use1-az1 - -\n",
			i%2, i%2, src, sport, dst, dport, 3+i, 1000+37*i, st, st+20, dir, 2+i%3, src, dst)
	}
	for i := range 9 {
		proto := 6
		if i == 8 {
			proto = 17
		}
		st := base.Unix() + 100 + int64(i)*61
		fmt.Fprintf(f, "123456789012 vpc-0kc subnet-0kc eni-0kc9 - 198.51.100.%d 5%04d 172.31.1.247 22 %d 1 %d REJECT OK %d %d ingress - 2 198.51.100.%d - 172.31.1.247 - us-east-1 use1-az1 - -\n",
			i%3+1, i, proto, 40+i*9, st, st+5, i%3+1)
	}
	f.Close()
	run("import", "--data-dir", d.dataDir, "--log-group", "kc", "--quiet", d.kcFile)
	run("import", "--data-dir", d.dataDir, "--log-group", "vpc", "--quiet", filepath.Join(dir, "vpc.log"))
	raw, _ := os.ReadFile(d.kcFile)
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n")[1:] {
		tok := strings.Split(l, " ")
		if len(tok) != len(kcNames) {
			t.Fatalf("record with %d fields: %q", len(tok), l)
		}
		r := map[string]string{"@message": l}
		for i, n := range kcNames {
			r[n] = tok[i]
		}
		d.kc = append(d.kc, r)
	}
	d.start, d.end = base.Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix()
	return d
}

func num(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// sums adds bytes by key over records that pass keep.
func sums(recs []map[string]string, keep func(map[string]string) bool, key func(map[string]string) string) map[string]int64 {
	out := map[string]int64{}
	for _, r := range recs {
		if keep != nil && !keep(r) {
			continue
		}
		if b, ok := num(r["bytes"]); ok {
			out[key(r)] += b
		}
	}
	return out
}

// topValues is the n largest sums, descending.
func topValues(m map[string]int64, n int) []int64 {
	var v []int64
	for _, x := range m {
		v = append(v, x)
	}
	slices.Sort(v)
	slices.Reverse(v)
	return v[:min(n, len(v))]
}

func isPairHTTP(r map[string]string) bool {
	in := func(a string) bool { return a == "172.31.1.247" || a == "172.31.11.212" }
	return in(r["srcaddr"]) && in(r["dstaddr"]) && r["protocol"] == "6" && (r["dstport"] == "80" || r["srcport"] == "80")
}

// rows turns GetQueryResults' results (as the CLI prints them) into maps.
func rows(out map[string]any) []map[string]string {
	var rs []map[string]string
	for _, row := range out["results"].([]any) {
		m := map[string]string{}
		for _, c := range row.([]any) {
			cell := c.(map[string]any)
			m[cell["field"].(string)] = cell["value"].(string)
		}
		rs = append(rs, m)
	}
	return rs
}

// checkKC checks the rows of knowledge-center query i against the records.
func (d *insightsData) checkKC(t *testing.T, i int, got []map[string]string) {
	t.Helper()
	checkTop := func(field string, m map[string]int64, n int, key func(map[string]string) string) {
		t.Helper()
		want := topValues(m, n)
		if len(got) != len(want) {
			t.Fatalf("query %d: %d rows, want %d: %v", i+1, len(got), len(want), got)
		}
		for j, r := range got {
			v, _ := num(r[field])
			if v != want[j] || m[key(r)] != v {
				t.Errorf("query %d row %d: %s=%s (group sum %d), want %d", i+1, j, field, r[field], m[key(r)], want[j])
			}
			if _, ok := r["@ptr"]; ok {
				t.Errorf("query %d: stats rows carry no @ptr", i+1)
			}
		}
	}
	latest := func(recs []map[string]string) []string {
		var st []string
		for _, r := range recs {
			st = append(st, r["start"])
		}
		sort.Sort(sort.Reverse(sort.StringSlice(st)))
		return st[:2]
	}
	switch i {
	case 0:
		want := latest(d.kc)
		if len(got) != 2 {
			t.Fatalf("query 1: %d rows", len(got))
		}
		for j, r := range got {
			if tok := strings.Split(r["@message"], " "); len(tok) != 27 || tok[14] != want[j] || r["@ptr"] == "" {
				t.Errorf("query 1 row %d: %v, want start %s", j, r, want[j])
			}
		}
	case 1:
		key := func(r map[string]string) string { return r["srcaddr"] + " " + r["dstaddr"] + " " + r["flow_direction"] }
		checkTop("Data_Transferred", sums(d.kc, nil, key), 2, key)
	case 2:
		key := func(r map[string]string) string { return r["instance_id"] }
		checkTop("Data_Transferred", sums(d.kc, nil, key), 5, key)
	case 3:
		key := func(r map[string]string) string { return r["srcaddr"] }
		ssh := func(r map[string]string) bool {
			return r["action"] == "REJECT" && r["protocol"] == "6" && r["dstport"] == "22"
		}
		m := sums(d.kc, ssh, key)
		if len(m) < 3 {
			t.Fatalf("only %d SSH sources in the data", len(m))
		}
		checkTop("SSH_Traffic_Volume", m, 2, key)
	case 4:
		var sel []map[string]string
		for _, r := range d.kc {
			if isPairHTTP(r) {
				sel = append(sel, r)
			}
		}
		want := latest(sel)
		cols := []string{"interface_id", "srcaddr", "srcport", "dstaddr", "dstport", "protocol", "bytes", "action", "log_status", "start", "end", "flow_direction", "tcp_flags", "@ptr"}
		if len(got) != 2 {
			t.Fatalf("query 5: %d rows", len(got))
		}
		for j, r := range got {
			var rec map[string]string
			for _, s := range sel {
				if s["start"] == want[j] {
					rec = s
				}
			}
			if len(r) != len(cols) {
				t.Errorf("query 5 row %d has fields %v, want %v", j, r, cols)
			}
			for _, c := range cols[:len(cols)-1] {
				if r[c] != rec[c] {
					t.Errorf("query 5 row %d: %s=%q, want %q", j, c, r[c], rec[c])
				}
			}
		}
	case 5:
		m := sums(d.kc, isPairHTTP, func(r map[string]string) string {
			st, _ := num(r["start"])
			return time.Unix(st-st%60, 0).UTC().Format("2006-01-02 15:04:05.000")
		})
		var bins []string
		for b := range m {
			bins = append(bins, b)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(bins)))
		if len(got) != len(bins) || len(bins) < 5 {
			t.Fatalf("query 6: %d rows, want %d bins: %v", len(got), len(bins), got)
		}
		for j, r := range got {
			if r["bin(1m)"] != bins[j] || r["Data_Transferred"] != strconv.FormatInt(m[bins[j]], 10) {
				t.Errorf("query 6 row %d: %v, want %s %d", j, r, bins[j], m[bins[j]])
			}
		}
	}
}

// cliQuery runs a query with `aws logs start-query` and polls
// `aws logs get-query-results` until it is Complete.
func (c *awsCLI) query(args ...string) map[string]any {
	c.t.Helper()
	id := c.ok(append([]string{"start-query"}, args...)...)["queryId"].(string)
	for range 200 {
		out := c.ok("get-query-results", "--query-id", id)
		switch out["status"] {
		case "Complete":
			return out
		case "Scheduled", "Running":
			time.Sleep(50 * time.Millisecond)
		default:
			c.t.Fatalf("query %s: status %v", id, out["status"])
		}
	}
	c.t.Fatalf("query %s did not complete", id)
	return nil
}

func TestInsightsAWSCLI(t *testing.T) {
	needCLI(t)
	d := newInsightsData(t)
	srv := startServer(t, d.dataDir)
	c := cli(t, srv, "logs")
	st, en := strconv.FormatInt(d.start, 10), strconv.FormatInt(d.end, 10)
	var lastPtr string
	for i, q := range kcQueries {
		out := c.query("--log-group-name", "kc", "--start-time", st, "--end-time", en, "--query-string", q)
		rs := rows(out)
		d.checkKC(t, i, rs)
		stats := out["statistics"].(map[string]any)
		if stats["recordsScanned"].(float64) != float64(len(d.kc)) || stats["bytesScanned"].(float64) <= 0 {
			t.Errorf("query %d statistics %v, want %d records scanned", i+1, stats, len(d.kc))
		}
		if i == 4 {
			lastPtr = rs[0]["@ptr"]
		}
	}

	// GetLogRecord of a returned @ptr: every field of the record.
	rec := c.ok("get-log-record", "--log-record-pointer", lastPtr)["logRecord"].(map[string]any)
	var want map[string]string
	for _, r := range d.kc {
		if isPairHTTP(r) && (want == nil || r["start"] > want["start"]) {
			want = r
		}
	}
	if rec["@message"] != want["@message"] || rec["@logStream"] != want["interface_id"] || rec["@log"] != "000000000000:kc" {
		t.Errorf("get-log-record: %v, want %q", rec, want["@message"])
	}
	if st, _ := num(want["start"]); rec["@timestamp"] != time.Unix(st, 0).UTC().Format("2006-01-02 15:04:05.000") {
		t.Errorf("@timestamp %v for start %s", rec["@timestamp"], want["start"])
	}

	// Default-format fields are discovered: names as AWS lists them.
	out := c.query("--log-group-names", "vpc", "--start-time", st, "--end-time", en,
		"--query-string", "stats count(*) as n by action | sort n desc")
	if rs := rows(out); len(rs) < 2 || rs[0]["action"] != "ACCEPT" {
		t.Errorf("discovered fields: %v", rs)
	}
	fields := c.ok("get-log-group-fields", "--log-group-name", "vpc", "--time", strconv.FormatInt(d.start+3600+600, 10))["logGroupFields"].([]any)
	names := map[string]float64{}
	for _, f := range fields {
		m := f.(map[string]any)
		names[m["name"].(string)] = m["percent"].(float64)
	}
	for _, n := range []string{"@timestamp", "@message", "@logStream", "srcAddr", "dstPort", "action", "logStatus"} {
		if names[n] != 100 {
			t.Errorf("get-log-group-fields: %s at %v%%: %v", n, names[n], fields)
		}
	}

	// Errors, as the CLI reports them.
	c.fails("MalformedQueryException", "line 2, column", "start-query", "--log-group-name", "kc", "--start-time", st, "--end-time", en,
		"--query-string", "fields @message\n| stats sum(bytes by srcaddr")
	c.fails("ResourceNotFoundException", "The specified log group does not exist.", "start-query", "--log-group-name", "nope",
		"--start-time", st, "--end-time", en, "--query-string", "fields @message")
	many := []string{"start-query", "--start-time", st, "--end-time", en, "--query-string", "fields @message", "--log-group-names"}
	for i := range 51 {
		many = append(many, "g"+strconv.Itoa(i))
	}
	c.fails("InvalidParameterException", "Member must have length less than or equal to 50", many...)
	c.fails("InvalidParameterException", "must not be before startTime", "start-query", "--log-group-name", "kc",
		"--start-time", en, "--end-time", st, "--query-string", "fields @message")

	// StopQuery: a finished query cannot be stopped; DescribeQueries lists
	// what ran, newest first, filtered by group and status.
	id := c.ok("start-query", "--log-group-name", "vpc", "--start-time", st, "--end-time", en, "--query-string", "stats count(*)")["queryId"].(string)
	if r, errText := c.run("stop-query", "--query-id", id); errText == "" {
		if r["success"] != true {
			t.Errorf("stop-query: %v", r)
		}
		if s := c.ok("get-query-results", "--query-id", id)["status"]; s != "Cancelled" {
			t.Errorf("stopped query is %v", s)
		}
	} else if !strings.Contains(errText, "InvalidParameterException") {
		t.Errorf("stop-query: %s", errText)
	}
	c.fails("InvalidParameterException", "is not running", "stop-query", "--query-id", id)
	qs := c.ok("describe-queries", "--log-group-name", "kc", "--status", "Complete")["queries"].([]any)
	if len(qs) != len(kcQueries) {
		t.Fatalf("describe-queries: %d queries for kc, want %d", len(qs), len(kcQueries))
	}
	if q := qs[0].(map[string]any); q["queryString"] != kcQueries[len(kcQueries)-1] || q["logGroupName"] != "kc" {
		t.Errorf("newest query first: %v", q)
	}
	c.fails("ResourceNotFoundException", "query does not exist", "get-query-results", "--query-id", "00000000-0000-0000-0000-000000000000")
}

func TestInsightsBoto3(t *testing.T) {
	needBoto3(t)
	d := newInsightsData(t)
	runPy(t, startServer(t, d.dataDir), "boto3_insights.py", "boto3 insights: all checks passed",
		d.kcFile, strconv.FormatInt(d.start, 10), strconv.FormatInt(d.end, 10))
}

// TestQueryCommand runs `flowwatch query` against the server (signed with
// the environment's credentials) and on the same file directly: both must
// print the same table.
func TestQueryCommand(t *testing.T) {
	d := newInsightsData(t)
	srv := startServer(t, d.dataDir)
	q := kcQueries[1]
	env := append(clientEnv(t, accessKey, secretKey), "AWS_REGION="+region)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("flowwatch %v: %v", args, err)
		}
		return string(out)
	}
	server := run("query", "--endpoint", srv.URL, "--log-group", "kc", "--start", strconv.FormatInt(d.start, 10),
		"--end", strconv.FormatInt(d.end, 10), "--format", "csv", q)
	files := run("query", "--format", "csv", q, d.kcFile)
	if server != files {
		t.Errorf("server:\n%s\nfiles:\n%s", server, files)
	}
	lines := strings.Split(strings.TrimSpace(server), "\n")
	if len(lines) != 3 || lines[0] != "srcaddr,dstaddr,flow_direction,Data_Transferred" {
		t.Fatalf("csv output:\n%s", server)
	}
	var got []map[string]string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		got = append(got, map[string]string{"srcaddr": f[0], "dstaddr": f[1], "flow_direction": f[2], "Data_Transferred": f[3]})
	}
	d.checkKC(t, 1, got)
	table := run("query", "--endpoint", srv.URL, "--log-group", "kc", q)
	if tl := strings.Split(table, "\n"); len(tl) < 4 || !strings.HasPrefix(tl[0], "srcaddr") || !strings.HasPrefix(tl[1], "---") {
		t.Errorf("table output:\n%s", table)
	}
	cmd := exec.Command(binary, "query", "--endpoint", srv.URL, "--log-group", "kc", "stats count(* by x")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MalformedQueryException") && !strings.Contains(string(out), "malformed query") {
		t.Errorf("malformed query through the command: %v %s", err, out)
	}
}
