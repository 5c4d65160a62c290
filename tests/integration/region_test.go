package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestRegionsCLI: log groups are per region (the SigV4 scope), as in AWS.
// The same name in us-east-1 and eu-west-1 is two groups with their own
// ARN, streams, events, tags, retention and queries; identifiers and
// query ids of one region name nothing in the other; a group stored before
// regions (here by `flowwatch import`, which writes bare names) is
// us-east-1's.
func TestRegionsCLI(t *testing.T) {
	needCLI(t)
	dataDir := t.TempDir()
	file := filepath.Join(t.TempDir(), "flows.log")
	now := time.Now().Unix()
	if err := os.WriteFile(file, []byte(fmt.Sprintf("2 000000000000 eni-0aaaaaaaaaaaaaaa1 10.0.0.1 10.0.0.2 443 50000 6 3 300 %d %d ACCEPT OK\n", now-120, now-60)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binary, "import", "--data-dir", dataDir, "--log-group", "legacy", file).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	srv := startServer(t, dataDir)
	us, eu := cli(t, srv, "logs").in("us-east-1"), cli(t, srv, "logs").in("eu-west-1")

	for _, c := range []*awsCLI{us, eu} {
		c.ok("create-log-group", "--log-group-name", "same")
		c.ok("create-log-stream", "--log-group-name", "same", "--log-stream-name", "s")
	}
	eu.fails("ResourceAlreadyExistsException", "The specified log group already exists", "create-log-group", "--log-group-name", "same")
	ms := time.Now().UnixMilli()
	eu.ok("put-log-events", "--log-group-name", "same", "--log-stream-name", "s", "--log-events",
		fmt.Sprintf(`[{"timestamp":%d,"message":"eu one"},{"timestamp":%d,"message":"eu two"}]`, ms-1, ms))
	us.ok("put-log-events", "--log-group-name", "same", "--log-stream-name", "s", "--log-events",
		fmt.Sprintf(`[{"timestamp":%d,"message":"us only"}]`, ms))

	groups := func(c *awsCLI) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, g := range list(t, c.ok("describe-log-groups"), "logGroups") {
			m[g["logGroupName"].(string)] = g
		}
		return m
	}
	ug, eg := groups(us), groups(eu)
	if len(ug) != 2 || ug["legacy"] == nil || ug["same"]["arn"] != "arn:aws:logs:us-east-1:000000000000:log-group:same:*" ||
		ug["same"]["storedBytes"] != float64(len("us only")) {
		t.Fatalf("us-east-1 groups: %v", ug)
	}
	if len(eg) != 1 || eg["same"]["logGroupArn"] != "arn:aws:logs:eu-west-1:000000000000:log-group:same" ||
		eg["same"]["storedBytes"] != float64(len("eu one")+len("eu two")) {
		t.Fatalf("eu-west-1 groups: %v", eg)
	}
	// A stream's storedBytes is always 0 (deprecated since 2019).
	st := list(t, eu.ok("describe-log-streams", "--log-group-name", "same"), "logStreams")
	if len(st) != 1 || st[0]["storedBytes"] != float64(0) || st[0]["arn"] != "arn:aws:logs:eu-west-1:000000000000:log-group:same:log-stream:s" {
		t.Fatalf("eu-west-1 streams: %v", st)
	}
	msgs := func(c *awsCLI) (out []string) {
		for _, e := range list(t, c.ok("get-log-events", "--log-group-name", "same", "--log-stream-name", "s", "--start-from-head"), "events") {
			out = append(out, e["message"].(string))
		}
		return out
	}
	if got := strings.Join(msgs(eu), ","); got != "eu one,eu two" {
		t.Fatalf("eu-west-1 events: %s", got)
	}
	if got := strings.Join(msgs(us), ","); got != "us only" {
		t.Fatalf("us-east-1 events: %s", got)
	}

	euARN := "arn:aws:logs:eu-west-1:000000000000:log-group:same"
	eu.ok("tag-resource", "--resource-arn", euARN, "--tags", "region=eu")
	us.fails("ResourceNotFoundException", "is in region eu-west-1", "tag-resource", "--resource-arn", euARN, "--tags", "region=us")
	us.fails("ResourceNotFoundException", "The specified log group does not exist.", "describe-log-streams", "--log-group-identifier", euARN)
	if tags := us.ok("list-tags-log-group", "--log-group-name", "same")["tags"]; tags != nil && len(tags.(map[string]any)) != 0 {
		t.Fatalf("us-east-1 tags: %v", tags)
	}
	eu.ok("put-retention-policy", "--log-group-name", "same", "--retention-in-days", "7")
	if _, set := groups(us)["same"]["retentionInDays"]; set {
		t.Fatal("eu-west-1 retention shows in us-east-1")
	}
	eu.fails("ResourceNotFoundException", "The specified log group does not exist.", "delete-log-group", "--log-group-name", "legacy")

	// Queries read their region's group, by name or ARN, and their ids
	// and pointers do not cross regions.
	span := []string{"--start-time", fmt.Sprint(now - 3600), "--end-time", fmt.Sprint(now + 60), "--query-string", "fields @message, @log | sort @timestamp asc"}
	res := eu.query(append([]string{"--log-group-identifiers", euARN}, span...)...)
	rs := rows(res)
	if len(rs) != 2 || rs[0]["@message"] != "eu one" || rs[1]["@log"] != "000000000000:same" {
		t.Fatalf("eu-west-1 query: %v", rs)
	}
	if rs := rows(us.query(append([]string{"--log-group-names", "same", "legacy"}, span...)...)); len(rs) != 2 || rs[0]["@message"] != "us only" && rs[1]["@message"] != "us only" {
		t.Fatalf("us-east-1 query: %v", rs)
	}
	us.fails("ResourceNotFoundException", "The specified log group does not exist.", append([]string{"start-query", "--log-group-identifiers", euARN}, span...)...)
	us.fails("InvalidParameterException", "logRecordPointer is not valid", "get-log-record", "--log-record-pointer", rs[0]["@ptr"])
	if rec := eu.ok("get-log-record", "--log-record-pointer", rs[0]["@ptr"])["logRecord"].(map[string]any); rec["@message"] != "eu one" {
		t.Fatalf("eu-west-1 record: %v", rec)
	}
	id := eu.ok(append([]string{"start-query", "--log-group-name", "same"}, span...)...)["queryId"].(string)
	us.fails("ResourceNotFoundException", "The specified query does not exist.", "get-query-results", "--query-id", id)
	for _, q := range list(t, us.ok("describe-queries"), "queries") {
		if q["queryId"] == id {
			t.Fatalf("us-east-1 lists an eu-west-1 query: %v", q)
		}
	}

	// flowwatch query --region reads that region's group.
	for r, want := range map[string]string{"eu-west-1": "eu one", "us-east-1": "us only"} {
		cmd := exec.Command(binary, "query", "--endpoint", srv.URL, "--region", r, "--log-group", "same", "--format", "csv",
			"--since", "1h", "sort @timestamp asc | limit 1 | fields @message")
		cmd.Env = clientEnv(t, accessKey, secretKey)
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "@message\n"+want {
			t.Fatalf("flowwatch query --region %s: %q %v", r, out, err)
		}
	}

	// Deleting one region's group leaves the other's.
	eu.ok("delete-log-group", "--log-group-name", "same")
	if got := strings.Join(msgs(us), ","); got != "us only" {
		t.Fatalf("us-east-1 events after the eu-west-1 delete: %s", got)
	}
}

// TestQueryAuthorizedPerGroup: StartQuery is authorized against each log
// group it names, so a user allowed to query one group cannot read another
// by listing both.
func TestQueryAuthorizedPerGroup(t *testing.T) {
	needCLI(t)
	srv := startServer(t, "")
	root := cli(t, srv, "")
	for _, g := range []string{"open", "secret"} {
		root.ok("logs", "create-log-group", "--log-group-name", g)
	}
	root.ok("iam", "create-user", "--user-name", "carol")
	key := root.ok("iam", "create-access-key", "--user-name", "carol")["AccessKey"].(map[string]any)
	root.ok("iam", "put-user-policy", "--user-name", "carol", "--policy-name", "query-open", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:StartQuery","Resource":"arn:aws:logs:us-east-1:000000000000:log-group:open:*"},`+
			`{"Effect":"Allow","Action":["logs:GetQueryResults","logs:StopQuery"],"Resource":"*"}]}`)
	carol := cliAs(t, srv, "logs", key["AccessKeyId"].(string), key["SecretAccessKey"].(string))
	span := []string{"--start-time", "0", "--end-time", fmt.Sprint(time.Now().Unix()), "--query-string", "stats count(*)"}
	carol.query(append([]string{"--log-group-name", "open"}, span...)...)
	const denied = "User: arn:aws:iam::000000000000:user/carol is not authorized to perform: logs:StartQuery on resource: arn:aws:logs:us-east-1:000000000000:log-group:secret:* because no identity-based policy allows the logs:StartQuery action"
	carol.fails("AccessDeniedException", denied, append([]string{"start-query", "--log-group-names", "open", "secret"}, span...)...)
	carol.fails("AccessDeniedException", denied, append([]string{"start-query", "--log-group-identifiers", "open", "arn:aws:logs:us-east-1:000000000000:log-group:secret"}, span...)...)
	carol.fails("AccessDeniedException", "on resource: arn:aws:logs:us-east-1:000000000000:log-group:*", append([]string{"start-query"},
		"--start-time", "0", "--end-time", "1", "--query-string", "SOURCE logGroups() | stats count(*)")...)
	if qs := list(t, root.ok("logs", "describe-queries"), "queries"); len(qs) != 1 {
		t.Fatalf("a denied query ran: %v", qs)
	}

	// Tagging is authorized on the ARN without ":*", as AWS documents.
	root.ok("iam", "put-user-policy", "--user-name", "carol", "--policy-name", "tag-open", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:TagResource","logs:ListTagsForResource"],"Resource":"arn:aws:logs:us-east-1:000000000000:log-group:open"}]}`)
	carol.ok("tag-resource", "--resource-arn", "arn:aws:logs:us-east-1:000000000000:log-group:open", "--tags", "team=net")
	if tags := carol.ok("list-tags-for-resource", "--resource-arn", "arn:aws:logs:us-east-1:000000000000:log-group:open")["tags"].(map[string]any); tags["team"] != "net" {
		t.Fatalf("tags %v", tags)
	}
	carol.fails("AccessDeniedException", "logs:TagResource on resource: arn:aws:logs:us-east-1:000000000000:log-group:secret because",
		"tag-resource", "--resource-arn", "arn:aws:logs:us-east-1:000000000000:log-group:secret", "--tags", "team=net")
}

// TestRegionsPresignBoto3: regions, PutLogEvents' entity and presigned
// URLs (botocore's generate_presigned_url) with boto3.
func TestRegionsPresignBoto3(t *testing.T) {
	needBoto3(t)
	runPy(t, startServer(t, ""), "regions_presign.py", "boto3 regions/presign: all checks passed")
}

// TestPresignSDK: requests presigned by aws-sdk-go-v2 (the STS presign
// client, and its SigV4 signer's PresignHTTP for a CloudWatch Logs JSON
// call, whose X-Amz-Target it hoists into the query string) are accepted
// until they expire; a changed body is refused.
func TestPresignSDK(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")
	send := func(method, url string, hdr http.Header, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	ps := sts.NewPresignClient(sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds}))
	p, err := ps.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := send(p.Method, p.URL, p.SignedHeader, ""); code != 200 || !strings.Contains(body, "<Arn>arn:aws:iam::000000000000:root</Arn>") {
		t.Fatalf("presigned GetCallerIdentity: %d %s", code, body)
	}

	cwlClient := sdkClient(srv.URL, accessKey, secretKey)
	if _, err := cwlClient.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("presigned")}); err != nil {
		t.Fatal(err)
	}
	presign := func(body, expires string, at time.Time) (string, http.Header) {
		t.Helper()
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/?X-Amz-Expires="+expires, strings.NewReader(body))
		r.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		sum := sha256.Sum256([]byte(body))
		c, _ := creds.Retrieve(ctx)
		url, hdr, err := v4.NewSigner().PresignHTTP(ctx, c, r, hex.EncodeToString(sum[:]), "logs", region, at)
		if err != nil {
			t.Fatal(err)
		}
		return url, hdr
	}
	body := `{"logGroupNamePrefix":"pre"}`
	url, hdr := presign(body, "120", time.Now())
	if !strings.Contains(url, "X-Amz-Target=Logs_20140328.DescribeLogGroups") {
		t.Fatalf("the SDK kept X-Amz-Target a header: %s", url)
	}
	if code, out := send(http.MethodPost, url, hdr, body); code != 200 || !strings.Contains(out, `"logGroupName":"presigned"`) {
		t.Fatalf("presigned DescribeLogGroups: %d %s", code, out)
	}
	if code, out := send(http.MethodPost, url, hdr, `{"logGroupNamePrefix":"x"}`); code != 400 || !strings.Contains(out, `"__type":"InvalidSignatureException"`) {
		t.Fatalf("changed body: %d %s", code, out)
	}
	url, hdr = presign(body, "60", time.Now().Add(-2*time.Minute))
	if code, out := send(http.MethodPost, url, hdr, body); code != 400 || !strings.Contains(out, "Signature expired") || !strings.Contains(out, "- 60 sec.)") {
		t.Fatalf("expired: %d %s", code, out)
	}
}

// TestRegionsSDK: aws-sdk-go-v2 clients of two regions see two log groups
// of one name, and a query id of one region is unknown in the other.
func TestRegionsSDK(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	client := func(r string) *cwl.Client {
		return cwl.New(cwl.Options{Region: r, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
			HTTPClient:  &http.Client{Transport: ownBody{http.DefaultTransport}}})
	}
	us, ap := client("us-east-1"), client("ap-southeast-2")
	g := aws.String("sdk-same")
	for _, c := range []*cwl.Client{us, ap} {
		if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("s")}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if _, err := ap.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: aws.String("s"),
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(now.UnixMilli()), Message: aws.String("in ap-southeast-2")}}}); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*cwl.Client]string{us: "arn:aws:logs:us-east-1:000000000000:log-group:sdk-same", ap: "arn:aws:logs:ap-southeast-2:000000000000:log-group:sdk-same"} {
		out, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
		if err != nil || len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupArn) != want {
			t.Fatalf("groups %+v %v, want %s", out, err, want)
		}
	}
	q, err := ap.StartQuery(ctx, &cwl.StartQueryInput{LogGroupIdentifiers: []string{"arn:aws:logs:ap-southeast-2:000000000000:log-group:sdk-same"},
		StartTime: aws.Int64(now.Add(-time.Hour).Unix()), EndTime: aws.Int64(now.Add(time.Minute).Unix()), QueryString: aws.String("stats count(*) as n")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = us.GetQueryResults(ctx, &cwl.GetQueryResultsInput{QueryId: q.QueryId})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified query does not exist.")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := ap.GetQueryResults(ctx, &cwl.GetQueryResultsInput{QueryId: q.QueryId})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == types.QueryStatusComplete {
			if len(r.Results) != 1 || aws.ToString(r.Results[0][0].Value) != "1" {
				t.Fatalf("ap-southeast-2 count: %+v", r.Results)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query still %s", r.Status)
		}
	}
	_, err = us.StartQuery(ctx, &cwl.StartQueryInput{LogGroupIdentifiers: []string{"arn:aws:logs:ap-southeast-2:000000000000:log-group:sdk-same"},
		StartTime: aws.Int64(0), EndTime: aws.Int64(now.Unix()), QueryString: aws.String("stats count(*)")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}
