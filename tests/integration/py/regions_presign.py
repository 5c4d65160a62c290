"""Regions, presigned requests and PutLogEvents' entity with boto3.

Usage: regions_presign.py ENDPOINT ACCESS_KEY SECRET_KEY  (run by region_test.go)
"""
import time
import urllib.error
import urllib.request

from harness import check, client, key, passed


def fetch(url):
    """GET url; returns (status, body)."""
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# Regions: the same name in two regions is two log groups.
us, eu = client("logs"), client("logs", "eu-west-1")
for c in (us, eu):
    c.create_log_group(logGroupName="b3-same")
    c.create_log_stream(logGroupName="b3-same", logStreamName="s")
now = int(time.time() * 1000)
eu.put_log_events(logGroupName="b3-same", logStreamName="s", logEvents=[{"timestamp": now, "message": "eu"}])
arns = [c.describe_log_groups(logGroupNamePrefix="b3-same")["logGroups"][0]["arn"] for c in (us, eu)]
check(arns == ["arn:aws:logs:us-east-1:000000000000:log-group:b3-same:*",
               "arn:aws:logs:eu-west-1:000000000000:log-group:b3-same:*"], "ARNs %r" % arns)
check(len(us.get_log_events(logGroupName="b3-same", logStreamName="s")["events"]) == 0, "eu-west-1 event visible in us-east-1")
check(len(eu.get_log_events(logGroupName="b3-same", logStreamName="s")["events"]) == 1, "eu-west-1 event missing")

# PutLogEvents' entity: a valid one is accepted silently; an invalid one is
# reported in rejectedEntityInfo and the events are stored all the same.
ok = us.put_log_events(logGroupName="b3-same", logStreamName="s", logEvents=[{"timestamp": now, "message": "with entity"}],
                       entity={"keyAttributes": {"Type": "Service", "Name": "checkout", "Environment": "prod"},
                               "attributes": {"PlatformType": "Generic"}})
check("rejectedEntityInfo" not in ok, "valid entity rejected: %r" % ok)
bad = us.put_log_events(logGroupName="b3-same", logStreamName="s", logEvents=[{"timestamp": now, "message": "bad entity"}],
                        entity={"keyAttributes": {"Type": "Lambda", "Name": "x"}})
check(bad.get("rejectedEntityInfo") == {"errorType": "InvalidTypeValue"}, "invalid entity: %r" % bad)
missing = us.put_log_events(logGroupName="b3-same", logStreamName="s", logEvents=[{"timestamp": now, "message": "no env"}],
                            entity={"keyAttributes": {"Type": "Service", "Name": "x"}})
check(missing.get("rejectedEntityInfo") == {"errorType": "MissingRequiredFields"}, "entity without Environment: %r" % missing)
msgs = [e["message"] for e in us.get_log_events(logGroupName="b3-same", logStreamName="s", startFromHead=True)["events"]]
check(msgs == ["with entity", "bad entity", "no env"], "events %r" % msgs)

# Presigned URLs (botocore's SigV4QueryAuth) to GET, as `aws eks get-token`
# makes them for sts:GetCallerIdentity.
sts = client("sts", "eu-west-1")
url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
check("X-Amz-Signature=" in url and "X-Amz-Expires=60" in url, "presigned URL %s" % url)
status, body = fetch(url)
check(status == 200 and "<Arn>arn:aws:iam::000000000000:root</Arn>" in body, "presigned sts: %d %s" % (status, body))
url = client("ec2").generate_presigned_url("describe_vpcs", ExpiresIn=60, HttpMethod="GET")
status, body = fetch(url)
check(status == 200 and "DescribeVpcsResponse" in body, "presigned ec2: %d %s" % (status, body))
# Tampered, expired, unknown key.
status, body = fetch(url.replace("DescribeVpcs", "DescribeSubnets"))
check(status in (400, 401, 403) and "signature we calculated does not match" in body, "tampered: %d %s" % (status, body))
short = sts.generate_presigned_url("get_caller_identity", ExpiresIn=1, HttpMethod="GET")
time.sleep(2.2)
status, body = fetch(short)
check(status in (400, 403) and "Signature expired" in body and "- 1 sec.)" in body, "expired: %d %s" % (status, body))
status, body = fetch(url.replace(key, "AKIAUNKNOWN000000000"))
check(status in (400, 401, 403) and "AuthFailure" in body, "unknown key: %d %s" % (status, body))

passed("boto3 regions/presign")
