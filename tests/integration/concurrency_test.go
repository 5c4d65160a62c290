package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// TestParallelPutsOneStream: parallel PutLogEvents to one stream are
// allowed (sequence tokens are ignored) and every event lands once.
func TestParallelPutsOneStream(t *testing.T) {
	srv := startServer(t, "")
	c := sdkClient(srv.URL, accessKey, secretKey)
	ctx := context.Background()
	g, s := aws.String("parallel"), aws.String("one")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	const writers, batches, per = 6, 10, 200
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				ev := make([]types.InputLogEvent, per)
				for i := range ev {
					ev[i] = types.InputLogEvent{Timestamp: aws.Int64(now), Message: aws.String(fmt.Sprintf("w%d b%d i%d", w, b, i))}
				}
				if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: ev, SequenceToken: aws.String("stale")}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range groupMessages(t, c, g) {
		if seen[m] {
			t.Fatalf("duplicate %q", m)
		}
		seen[m] = true
	}
	if len(seen) != writers*batches*per {
		t.Fatalf("%d events, want %d", len(seen), writers*batches*per)
	}
}

// groupMessages returns the message of every event of log group g, in
// FilterLogEvents' order, duplicates included.
func groupMessages(t *testing.T, c *cwl.Client, g *string) []string {
	t.Helper()
	var msgs []string
	fp := cwl.NewFilterLogEventsPaginator(c, &cwl.FilterLogEventsInput{LogGroupName: g})
	for fp.HasMorePages() {
		out, err := fp.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
	}
	return msgs
}
