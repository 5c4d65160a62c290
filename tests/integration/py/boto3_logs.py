"""Drives every CloudWatch Logs operation flowwatch serves with boto3.

Usage: boto3_logs.py ENDPOINT ACCESS_KEY SECRET_KEY  (run by cli_test.go)
"""
import time

from harness import check, client, fails, passed

logs = client("logs")

g, s = "/boto3/group", "stream-1"
logs.create_log_group(logGroupName=g, tags={"owner": "boto3"})
fails("ResourceAlreadyExistsException", "already exists", logs.create_log_group, logGroupName=g)
fails("InvalidParameterException", "failed to satisfy constraint: Member must have length less than or equal to 512",
      logs.create_log_group, logGroupName="x" * 513)
logs.create_log_stream(logGroupName=g, logStreamName=s)
logs.create_log_stream(logGroupName=g, logStreamName="stream-2")

now = int(time.time() * 1000)
events = [{"timestamp": now - 1000 + i, "message": "event %d %s" % (i, "ERROR" if i % 10 == 0 else "ok")} for i in range(500)]
r = logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=events)
check("rejectedLogEventsInfo" not in r, "nothing rejected")
r = logs.put_log_events(logGroupName=g, logStreamName="stream-2",
                        logEvents=[{"timestamp": now, "message": "now"}, {"timestamp": now + 3 * 3600 * 1000, "message": "future"}])
check(r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}, "too new: %r" % r)
fails("InvalidParameterException", "chronological order", logs.put_log_events, logGroupName=g, logStreamName=s,
      logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
fails("InvalidParameterException", "cannot span more than 24 hours", logs.put_log_events, logGroupName=g, logStreamName=s,
      logEvents=[{"timestamp": now - 25 * 3600 * 1000, "message": "a"}, {"timestamp": now, "message": "b"}])

# Paginators: describe_log_streams, filter_log_events.
streams = [st["logStreamName"] for page in logs.get_paginator("describe_log_streams").paginate(
    logGroupName=g, PaginationConfig={"PageSize": 1}) for st in page["logStreams"]]
check(streams == ["stream-1", "stream-2"], "streams %r" % streams)
st = logs.describe_log_streams(logGroupName=g, logStreamNamePrefix="stream-1")["logStreams"][0]
check(st["firstEventTimestamp"] == now - 1000 and st["lastEventTimestamp"] == now - 501, "stream times %r" % st)
matched = [e for page in logs.get_paginator("filter_log_events").paginate(
    logGroupName=g, filterPattern="ERROR", PaginationConfig={"PageSize": 7}) for e in page["events"]]
check(len(matched) == 50 and all("ERROR" in e["message"] for e in matched), "filter %d" % len(matched))
fe = logs.filter_log_events(logGroupName=g, logStreamNames=["stream-2"])
check(fe["searchedLogStreams"] == [] and len(fe["events"]) == 1, "filter streams %r" % fe)

# get_log_events: walk forward until the token repeats.
seen, token = [], None
while True:
    kw = {"logGroupName": g, "logStreamName": s, "startFromHead": True, "limit": 100}
    if token:
        kw["nextToken"] = token
    r = logs.get_log_events(**kw)
    seen += [e["message"] for e in r["events"]]
    if r["nextForwardToken"] == token:
        break
    token = r["nextForwardToken"]
check(len(seen) == 500 and seen[0] == "event 0 ERROR", "get_log_events %d" % len(seen))
r = logs.get_log_events(logGroupName=g, logStreamName=s, limit=3)
check([e["message"] for e in r["events"]] == ["event 497 ok", "event 498 ok", "event 499 ok"], "newest page %r" % r["events"])

groups = [x["logGroupName"] for x in logs.describe_log_groups(logGroupNamePattern="boto3")["logGroups"]]
check(groups == [g], "groups %r" % groups)
logs.put_retention_policy(logGroupName=g, retentionInDays=3653)
check(logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 3653, "retention")
fails("InvalidParameterException", "enum value set", logs.put_retention_policy, logGroupName=g, retentionInDays=4)
logs.delete_retention_policy(logGroupName=g)
check("retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0], "retention removed")

arn = "arn:aws:logs:us-east-1:000000000000:log-group:" + g
logs.tag_resource(resourceArn=arn, tags={"a": "1"})
logs.untag_resource(resourceArn=arn, tagKeys=["owner"])
check(logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1"}, "tags")
logs.tag_log_group(logGroupName=g, tags={"b": "2"})
logs.untag_log_group(logGroupName=g, tags=["a"])
check(logs.list_tags_log_group(logGroupName=g)["tags"] == {"b": "2"}, "legacy tags")
fails("TooManyTagsException", "no more than 50 tags", logs.tag_resource, resourceArn=arn,
      tags={"k%d" % i: "v" for i in range(50)})

logs.delete_log_stream(logGroupName=g, logStreamName="stream-2")
fails("ResourceNotFoundException", "The specified log stream does not exist.", logs.delete_log_stream, logGroupName=g, logStreamName="stream-2")
logs.delete_log_group(logGroupName=g)
fails("ResourceNotFoundException", "The specified log group does not exist.", logs.describe_log_streams, logGroupName=g)

fails("InvalidSignatureException", "does not match", client("logs", s="wrong").describe_log_groups)
fails("UnrecognizedClientException", "The security token included in the request is invalid.", client("logs", k="AKIAUNKNOWN000000000").describe_log_groups)
passed("boto3")
