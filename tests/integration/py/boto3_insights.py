"""Logs Insights through boto3: the six knowledge-center queries on the 27-field
custom format, checked against values computed here from the records file, and
the API's error paths.

Usage: boto3_insights.py ENDPOINT ACCESS_KEY SECRET_KEY KC_FILE START END
(run by insights_test.go; group "kc" holds KC_FILE, group "vpc" default-format records)
"""
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from harness import check, client, passed

kc_file, start, end = sys.argv[4:7]
start, end = int(start), int(end)
logs = client("logs")


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response
    raise AssertionError("expected an error from %s" % fn.__name__)


NAMES = ("account_id vpc_id subnet_id interface_id instance_id srcaddr srcport dstaddr dstport protocol packets bytes "
         "action log_status start end flow_direction traffic_path tcp_flags pkt_srcaddr pkt_src_aws_service pkt_dstaddr "
         "pkt_dst_aws_service region az_id sublocation_type sublocation_id").split()
with open(kc_file) as f:
    lines = f.read().strip().split("\n")[1:]  # the header line names the fields
recs = []
for line in lines:
    r = dict(zip(NAMES, line.split(" ")))
    r["@message"] = line
    recs.append(r)

PARSE = ('parse @message "' + " ".join(["*"] * 27) + '" as account_id, vpc_id, subnet_id, interface_id,instance_id, '
         "srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status, start, end, flow_direction, "
         "traffic_path, tcp_flags, pkt_srcaddr, pkt_src_aws_service, pkt_dstaddr, pkt_dst_aws_service, region, az_id, "
         "sublocation_type, sublocation_id")
PAIR = ('filter srcaddr in ["172.31.1.247","172.31.11.212"] and dstaddr in ["172.31.1.247","172.31.11.212"] '
        "and protocol = 6 and (dstport = 80 or srcport=80)")


def run(query, **kw):
    qid = logs.start_query(startTime=start, endTime=end, queryString=query, **kw)["queryId"]
    for _ in range(400):
        r = logs.get_query_results(queryId=qid)
        if r["status"] == "Complete":
            return qid, r, [{c["field"]: c["value"] for c in row} for row in r["results"]]
        check(r["status"] in ("Scheduled", "Running"), "status %s" % r["status"])
        time.sleep(0.02)
    raise AssertionError("query did not complete")


def sums(keep, key):
    out = defaultdict(int)
    for r in recs:
        if keep(r) and r["bytes"].isdigit():
            out[key(r)] += int(r["bytes"])
    return out


def check_top(rows, field, m, n, key, what):
    want = sorted(m.values(), reverse=True)[:n]
    check(len(rows) == len(want), "%s: %d rows, want %d" % (what, len(rows), len(want)))
    for row, w in zip(rows, want):
        check(int(row[field]) == w and m[key(row)] == w, "%s: %r, want %d" % (what, row, w))
        check("@ptr" not in row, "%s: stats rows carry no @ptr" % what)


def is_pair_http(r):
    pair = ("172.31.1.247", "172.31.11.212")
    return r["srcaddr"] in pair and r["dstaddr"] in pair and r["protocol"] == "6" and "80" in (r["dstport"], r["srcport"])


everything = lambda r: True

# 1. The two most recent flows by start.
_, res, rows = run("#Retrieve latest custom VPC Flow Logs\n" + PARSE + "\n| sort start desc\n| limit 2", logGroupName="kc")
latest = sorted((r["start"] for r in recs), reverse=True)[:2]
check([row["@message"].split(" ")[14] for row in rows] == latest, "latest: %r, want %r" % (rows, latest))
check(res["statistics"]["recordsScanned"] == len(recs), "scanned %r" % res["statistics"])
ptr = rows[0]["@ptr"]

# 2. Top pairs by bytes with the direction.
k2 = lambda r: (r["srcaddr"], r["dstaddr"], r["flow_direction"])
_, _, rows = run(PARSE + "\n| stats sum(bytes) as Data_Transferred by srcaddr, dstaddr, flow_direction\n"
                 "| sort by Data_Transferred desc\n| limit 2", logGroupIdentifiers=["kc"])
check_top(rows, "Data_Transferred", sums(everything, k2), 2, k2, "query 2")

# 3. Top instances ("-" is a group of its own).
k3 = lambda r: r["instance_id"]
_, _, rows = run(PARSE + "\n| stats sum(bytes) as Data_Transferred by instance_id\n| sort by Data_Transferred desc\n"
                 "| limit 5", logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:kc"])
check_top(rows, "Data_Transferred", sums(everything, k3), 5, k3, "query 3")

# 4. Rejected SSH by source.
k4 = lambda r: r["srcaddr"]
ssh = sums(lambda r: r["action"] == "REJECT" and r["protocol"] == "6" and r["dstport"] == "22", k4)
check(len(ssh) >= 3, "SSH sources in the data: %r" % ssh)
_, _, rows = run(PARSE + '\n| filter action = "REJECT" and protocol = 6 and dstport = 22\n'
                 "| stats sum(bytes) as SSH_Traffic_Volume by srcaddr\n| sort by SSH_Traffic_Volume desc\n| limit 2",
                 logGroupNames=["kc"])
check_top(rows, "SSH_Traffic_Volume", ssh, 2, k4, "query 4")

# 5. The HTTP stream of the pair, latest two, displayed fields only.
cols = ["interface_id", "srcaddr", "srcport", "dstaddr", "dstport", "protocol", "bytes", "action", "log_status",
        "start", "end", "flow_direction", "tcp_flags"]
_, _, rows = run("#HTTP Data Stream for Specific Source/Destination Pair\n" + PARSE + "\n| " + PAIR +
                 "\n| display interface_id,srcaddr, srcport, dstaddr, dstport, protocol, bytes, action, log_status, "
                 "start, end, flow_direction, tcp_flags\n| sort by start desc\n| limit 2", logGroupName="kc")
sel = sorted((r for r in recs if is_pair_http(r)), key=lambda r: r["start"], reverse=True)[:2]
check(len(rows) == 2, "query 5 rows %r" % rows)
for row, r in zip(rows, sel):
    check(list(row) == cols + ["@ptr"], "query 5 columns %r" % list(row))
    check(all(row[c] == r[c] for c in cols), "query 5: %r, want %r" % (row, r))

# 6. The pair's bytes per minute, newest bin first.
def minute(r):
    s = int(r["start"])
    return datetime.fromtimestamp(s - s % 60, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.000")


bins = sums(is_pair_http, minute)
_, _, rows = run(PARSE + "\n| " + PAIR + "\n| stats sum(bytes) as Data_Transferred by bin(1m)", logGroupName="kc")
check(len(bins) >= 5, "bins in the data: %r" % bins)
check([(row["bin(1m)"], int(row["Data_Transferred"])) for row in rows] == sorted(bins.items(), reverse=True),
      "query 6: %r, want %r" % (rows, sorted(bins.items(), reverse=True)))

# GetLogRecord of the first @ptr of query 1.
rec = logs.get_log_record(logRecordPointer=ptr)["logRecord"]
newest = [r for r in recs if r["start"] == latest[0]]
check(rec["@message"] in [r["@message"] for r in newest], "get_log_record: %r" % rec)
check(rec["@log"] == "000000000000:kc" and rec["@logStream"] == rec["@message"].split(" ")[3], "system fields %r" % rec)
err = error_of(logs.get_log_record, logRecordPointer="not-a-pointer")
check(err["Error"]["Code"] == "InvalidParameterException", "bad pointer: %r" % err["Error"])

# GetLogGroupFields around the data.
fields = logs.get_log_group_fields(logGroupName="vpc", time=start + 3600 + 600)["logGroupFields"]
pct = {f["name"]: f["percent"] for f in fields}
for n in ("@timestamp", "@message", "@log", "srcAddr", "dstAddr", "bytes", "interfaceId"):
    check(pct.get(n) == 100, "get_log_group_fields %s: %r" % (n, fields))
check([f["percent"] for f in fields] == sorted((f["percent"] for f in fields), reverse=True), "sorted by percent")

# Errors: malformed query with its position, unknown group, too many
# groups, a range that ends before it starts, no group at all.
text = "fields @message\n| filter bytes >"
err = error_of(logs.start_query, logGroupName="kc", startTime=start, endTime=end, queryString=text)
check(err["Error"]["Code"] == "MalformedQueryException" and "line 2, column" in err["Error"]["Message"], "malformed: %r" % err)
loc = err.get("queryCompileError", {}).get("location", {})
check(loc.get("startCharOffset", -1) >= len("fields @message\n") and loc.get("endCharOffset", -1) >= loc["startCharOffset"],
      "queryCompileError %r" % err)
err = error_of(logs.start_query, logGroupName="missing", startTime=start, endTime=end, queryString="fields @message")
check(err["Error"]["Code"] == "ResourceNotFoundException", "unknown group %r" % err["Error"])
err = error_of(logs.start_query, logGroupNames=["g%d" % i for i in range(51)], startTime=start, endTime=end,
               queryString="fields @message")
check(err["Error"]["Code"] == "InvalidParameterException" and "less than or equal to 50" in err["Error"]["Message"], "%r" % err)
err = error_of(logs.start_query, logGroupName="kc", startTime=end, endTime=start, queryString="fields @message")
check(err["Error"]["Code"] == "InvalidParameterException", "bad range %r" % err["Error"])
err = error_of(logs.start_query, startTime=start, endTime=end, queryString="fields @message")
check(err["Error"]["Code"] == "InvalidParameterException", "no group %r" % err["Error"])

# SOURCE selects the groups itself.
_, _, rows = run("SOURCE logGroups(namePrefix: ['kc', 'vp']) | stats count(*) as n by @log | sort @log")
check([(r["@log"], int(r["n"])) for r in rows][0] == ("000000000000:kc", len(recs)) and len(rows) == 2, "SOURCE %r" % rows)

# StopQuery on a finished query; DescribeQueries newest first, paginated.
qid, _, _ = run("stats count(*)", logGroupName="vpc")
err = error_of(logs.stop_query, queryId=qid)
check(err["Error"]["Code"] == "InvalidParameterException", "stop finished query %r" % err["Error"])
seen = []
kw = {}
while True:
    page = logs.describe_queries(logGroupName="kc", maxResults=3, **kw)
    seen += page["queries"]
    if "nextToken" not in page:
        break
    kw = {"nextToken": page["nextToken"]}
check(len(seen) >= 7 and all(q["status"] == "Complete" for q in seen), "describe_queries %r" % seen)
check([q["createTime"] for q in seen] == sorted((q["createTime"] for q in seen), reverse=True), "newest first")
check(len({q["queryId"] for q in seen}) == len(seen), "no query twice across pages")

passed("boto3 insights")
