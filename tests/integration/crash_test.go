package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// TestKill9AfterAck: events acknowledged with 200 are there after kill -9
// and a restart, exactly once.
func TestKill9AfterAck(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	c := sdkClient(srv.URL, accessKey, secretKey)
	ctx := context.Background()
	g, s := aws.String("crash"), aws.String("s")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	const batches, per = 5, 1000
	for b := 0; b < batches; b++ {
		ev := make([]types.InputLogEvent, per)
		for i := range ev {
			ev[i] = types.InputLogEvent{Timestamp: aws.Int64(now + int64(b)), Message: aws.String(fmt.Sprintf("batch %d event %d", b, i))}
		}
		if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: ev}); err != nil {
			t.Fatal(err)
		}
	}
	srv.kill() // kill -9 right after the last 200

	srv = startServer(t, dir)
	c = sdkClient(srv.URL, accessKey, secretKey)
	seen := map[string]int{}
	pg := cwl.NewGetLogEventsPaginator(c, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true)},
		func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			seen[aws.ToString(e.Message)]++
		}
	}
	if len(seen) != batches*per {
		t.Fatalf("after kill -9: %d distinct events, want %d", len(seen), batches*per)
	}
	for m, n := range seen {
		if n != 1 {
			t.Fatalf("%q seen %d times", m, n)
		}
	}
	// And a graceful stop keeps everything too.
	srv.stop(t)
	srv = startServer(t, dir)
	ds, err := sdkClient(srv.URL, accessKey, secretKey).DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g})
	if err != nil || len(ds.LogStreams) != 1 || aws.ToInt64(ds.LogStreams[0].LastEventTimestamp) != now+batches-1 {
		t.Fatalf("after restart: %+v %v", ds, err)
	}
	srv.stop(t)
}

// TestGeneratedCredentials: without FLOWWATCH_* variables serve makes a key
// pair on first start, stores it 0600, prints it once, and reuses it.
func TestGeneratedCredentials(t *testing.T) {
	dir := t.TempDir()
	noEnv := []string{"FLOWWATCH_ACCESS_KEY_ID=", "FLOWWATCH_SECRET_ACCESS_KEY="}
	srv := startServer(t, dir, noEnv...)
	srv.stop(t)
	out := srv.stdout.String()
	id := regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})$`).FindStringSubmatch(out)
	sec := regexp.MustCompile(`(?m)^export AWS_SECRET_ACCESS_KEY=(\S{40})$`).FindStringSubmatch(out)
	if id == nil || sec == nil || !strings.Contains(out, "export AWS_DEFAULT_REGION=") {
		t.Fatalf("stdout: %q", out)
	}
	if strings.Contains(srv.stderr.String(), sec[1]) {
		t.Fatal("the secret appears in the logs")
	}
	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi, err)
	}
	srv = startServer(t, dir, noEnv...)
	if strings.Contains(srv.stdout.String(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatal("credentials printed again on the second start")
	}
	if _, err := sdkClient(srv.URL, id[1], sec[1]).DescribeLogGroups(context.Background(), &cwl.DescribeLogGroupsInput{}); err != nil {
		t.Fatalf("generated credentials rejected: %v", err)
	}
	srv.stop(t)
}

// TestAccountIDAndRegion: --account-id and the signing region name the
// resources.
func TestAccountIDAndRegion(t *testing.T) {
	srv := startServerWith(t, "", []string{"--account-id", "123456789012"}, nil)
	base := sdkClient(srv.URL, accessKey, secretKey).Options()
	c := cwl.New(cwl.Options{Region: "ap-southeast-2", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: base.Credentials, HTTPClient: base.HTTPClient})
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	if err != nil || len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].Arn) != "arn:aws:logs:ap-southeast-2:123456789012:log-group:acct:*" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String("arn:aws:logs:ap-southeast-2:123456789012:log-group:acct"),
		Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
}

// TestGracefulShutdownUnderLoad: SIGTERM while clients are writing drains
// the requests in flight and flushes the store: every acknowledged event is
// there after a restart.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	c := sdkClient(srv.URL, accessKey, secretKey)
	ctx := context.Background()
	g := aws.String("drain")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	acked := make([][]string, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		s := aws.String(fmt.Sprint("w", w))
		if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; ; b++ {
				ev := make([]types.InputLogEvent, 500)
				for i := range ev {
					ev[i] = types.InputLogEvent{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String(fmt.Sprintf("w%d b%d i%d", w, b, i))}
				}
				if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: ev}); err != nil {
					return // the server is going away
				}
				for _, e := range ev {
					acked[w] = append(acked[w], *e.Message)
				}
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	srv.stop(t) // SIGTERM, exit 0
	wg.Wait()

	srv = startServer(t, dir)
	c = sdkClient(srv.URL, accessKey, secretKey)
	stored := map[string]bool{}
	for _, m := range groupMessages(t, c, g) {
		stored[m] = true
	}
	total := 0
	for _, msgs := range acked {
		total += len(msgs)
		for _, m := range msgs {
			if !stored[m] {
				t.Fatalf("acknowledged event %q lost in a graceful shutdown", m)
			}
		}
	}
	if total == 0 {
		t.Fatal("no batch was acknowledged before the shutdown")
	}
	srv.stop(t)
}
