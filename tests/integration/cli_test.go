package integration

import (
	"fmt"
	"testing"
	"time"
)

func TestAWSCLI(t *testing.T) {
	needCLI(t)
	srv := startServer(t, "")
	c := cli(t, srv, "logs")

	c.ok("create-log-group", "--log-group-name", "cli-g", "--tags", "team=net")
	c.fails("ResourceAlreadyExistsException", "The specified log group already exists", "create-log-group", "--log-group-name", "cli-g")
	c.fails("InvalidParameterException", "Value 'bad*name' at 'logGroupName' failed to satisfy constraint", "create-log-group", "--log-group-name", "bad*name")
	for i := 0; i < 4; i++ {
		c.ok("create-log-group", "--log-group-name", fmt.Sprintf("cli-page-%d", i))
	}
	c.ok("create-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.fails("ResourceNotFoundException", "The specified log group does not exist.", "create-log-stream", "--log-group-name", "nope", "--log-stream-name", "s1")

	now := time.Now().UnixMilli()
	events := fmt.Sprintf(`[{"timestamp":%d,"message":"first event"},{"timestamp":%d,"message":"second ERROR event"},{"timestamp":%d,"message":"third event"}]`, now-2, now-1, now)
	put := c.ok("put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--log-events", events)
	if _, rejected := put["rejectedLogEventsInfo"]; rejected {
		t.Fatalf("put: %v", put)
	}
	old := fmt.Sprintf(`[{"timestamp":%d,"message":"too old"},{"timestamp":%d,"message":"fine"}]`, now-15*86400000, now)
	put = c.ok("put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--log-events", old)
	if r, _ := put["rejectedLogEventsInfo"].(map[string]any); r["tooOldLogEventEndIndex"] != float64(1) {
		t.Fatalf("put old: %v", put)
	}
	c.fails("InvalidParameterException", "must be in chronological order", "put-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1",
		"--log-events", fmt.Sprintf(`[{"timestamp":%d,"message":"b"},{"timestamp":%d,"message":"a"}]`, now, now-5))

	// The CLI pages describe-log-groups itself; --page-size makes it page.
	dg := c.ok("describe-log-groups", "--log-group-name-prefix", "cli-", "--page-size", "2")
	if groups, _ := dg["logGroups"].([]any); len(groups) != 5 {
		t.Fatalf("describe-log-groups: %v", dg)
	}
	ds := c.ok("describe-log-streams", "--log-group-name", "cli-g", "--order-by", "LastEventTime", "--descending")
	st := ds["logStreams"].([]any)[0].(map[string]any)
	if st["logStreamName"] != "s1" || st["lastEventTimestamp"] != float64(now) || st["firstEventTimestamp"] != float64(now-2) {
		t.Fatalf("describe-log-streams: %v", ds)
	}
	ge := c.ok("get-log-events", "--log-group-name", "cli-g", "--log-stream-name", "s1", "--start-from-head")
	if evs := ge["events"].([]any); len(evs) != 4 || evs[0].(map[string]any)["message"] != "first event" || ge["nextForwardToken"] == nil || ge["nextBackwardToken"] == nil {
		t.Fatalf("get-log-events: %v", ge)
	}
	fe := c.ok("filter-log-events", "--log-group-name", "cli-g", "--filter-pattern", "ERROR", "--page-size", "1")
	if evs := fe["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["message"] != "second ERROR event" {
		t.Fatalf("filter-log-events: %v", fe)
	}
	fe = c.ok("filter-log-events", "--log-group-name", "cli-g", "--log-stream-name-prefix", "s", "--start-time", fmt.Sprint(now-1), "--end-time", fmt.Sprint(now))
	if evs := fe["events"].([]any); len(evs) != 3 {
		t.Fatalf("filter-log-events range: %v", fe)
	}

	c.ok("put-retention-policy", "--log-group-name", "cli-g", "--retention-in-days", "14")
	c.fails("InvalidParameterException", "Member must satisfy enum value set", "put-retention-policy", "--log-group-name", "cli-g", "--retention-in-days", "15")
	dg = c.ok("describe-log-groups", "--log-group-name-prefix", "cli-g")
	if g := dg["logGroups"].([]any)[0].(map[string]any); g["retentionInDays"] != float64(14) {
		t.Fatalf("retention: %v", g)
	}
	c.ok("delete-retention-policy", "--log-group-name", "cli-g")

	arn := "arn:aws:logs:us-east-1:000000000000:log-group:cli-g"
	c.ok("tag-resource", "--resource-arn", arn, "--tags", "env=dev")
	c.ok("untag-resource", "--resource-arn", arn, "--tag-keys", "team")
	lt := c.ok("list-tags-for-resource", "--resource-arn", arn)
	if tags := lt["tags"].(map[string]any); len(tags) != 1 || tags["env"] != "dev" {
		t.Fatalf("tags: %v", lt)
	}
	c.ok("tag-log-group", "--log-group-name", "cli-g", "--tags", "legacy=yes")
	c.ok("untag-log-group", "--log-group-name", "cli-g", "--tags", "env")
	lt = c.ok("list-tags-log-group", "--log-group-name", "cli-g")
	if tags := lt["tags"].(map[string]any); len(tags) != 1 || tags["legacy"] != "yes" {
		t.Fatalf("legacy tags: %v", lt)
	}

	c.ok("delete-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.fails("ResourceNotFoundException", "The specified log stream does not exist.", "delete-log-stream", "--log-group-name", "cli-g", "--log-stream-name", "s1")
	c.ok("delete-log-group", "--log-group-name", "cli-g")
	c.fails("ResourceNotFoundException", "The specified log group does not exist.", "delete-log-group", "--log-group-name", "cli-g")

	bad := cliAs(t, srv, "logs", accessKey, "not-the-secret")
	bad.fails("InvalidSignatureException", "The request signature we calculated does not match", "describe-log-groups")
	unknown := cliAs(t, srv, "logs", "AKIAUNKNOWN000000000", secretKey)
	unknown.fails("UnrecognizedClientException", "The security token included in the request is invalid.", "describe-log-groups")
}

func TestBoto3(t *testing.T) {
	needBoto3(t)
	runPy(t, startServer(t, ""), "boto3_logs.py", "boto3: all checks passed")
}
