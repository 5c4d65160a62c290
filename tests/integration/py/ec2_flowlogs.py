"""Drives flowwatch's EC2 operations (inventory and flow logs) with boto3.

Usage: ec2_flowlogs.py ENDPOINT ACCESS_KEY SECRET_KEY VPC_ID INSTANCE_ID  (run by ec2_test.go)
"""
import json
import sys

from harness import check, client, fails, passed

vpc_id, instance_id = sys.argv[4:6]
ec2 = client("ec2")
ROLE = "arn:aws:iam::000000000000:role/flowlogsRole"


# Inventory.
vpcs = ec2.describe_vpcs()["Vpcs"]
check([v["VpcId"] for v in vpcs] == [vpc_id], "vpcs %r" % vpcs)
res = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Reservations"]
check(len(res) == 1 and res[0]["Instances"][0]["InstanceId"] == instance_id, "instances %r" % res)
enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkInterfaces"]
for e in enis:
    check(e["Attachment"]["InstanceId"] == instance_id and e["Status"] == "in-use", "eni %r" % e)
    got = ec2.describe_network_interfaces(NetworkInterfaceIds=[e["NetworkInterfaceId"]])["NetworkInterfaces"]
    check(len(got) == 1 and got[0]["MacAddress"] == e["MacAddress"], "by id %r" % got)
subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
check({s["SubnetId"] for s in subnets} == {e["SubnetId"] for e in enis}, "subnets %r vs %r" % (subnets, enis))
fails("InvalidNetworkInterfaceID.NotFound", "eni-00000000000000000", ec2.describe_network_interfaces,
      NetworkInterfaceIds=["eni-00000000000000000"])
fails("InvalidParameterValue", "The filter 'colour' is invalid", ec2.describe_subnets,
      Filters=[{"Name": "colour", "Values": ["red"]}])
fails("DryRunOperation", "DryRun flag is set", ec2.describe_vpcs, DryRun=True)
ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "lab"}])
tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lab"]}])["Vpcs"]
check(len(tagged) == 1 and tagged[0]["Tags"] == [{"Key": "Name", "Value": "lab"}], "tagged vpc %r" % tagged)
fails("InvalidID", "sg-0123abcd", ec2.create_tags, Resources=["sg-0123abcd"], Tags=[{"Key": "a", "Value": "b"}])

# Flow logs: a VPC flow log, one per interface (REJECT, custom format, 60 s),
# and the per-resource failures.
out = ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="/boto3/vpc",
                           DeliverLogsPermissionArn=ROLE, ClientToken="boto3-token-1")
check(len(out["FlowLogIds"]) == 1 and out["Unsuccessful"] == [] and out["ClientToken"] == "boto3-token-1", "create %r" % out)
vpc_fl = out["FlowLogIds"][0]
again = ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="/boto3/vpc",
                             DeliverLogsPermissionArn=ROLE, ClientToken="boto3-token-1")
check(again["FlowLogIds"] == [vpc_fl], "idempotent retry %r" % again)
fails("IdempotentParameterMismatch", "inconsistent", ec2.create_flow_logs, ResourceType="VPC", ResourceIds=[vpc_id],
      TrafficType="REJECT", LogGroupName="/boto3/vpc", DeliverLogsPermissionArn=ROLE, ClientToken="boto3-token-1")

fmt = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${action} ${tcp-flags}"
eni_ids = [e["NetworkInterfaceId"] for e in enis] + ["eni-00000000000000000"]
out = ec2.create_flow_logs(ResourceType="NetworkInterface", ResourceIds=eni_ids, TrafficType="REJECT",
                           LogDestination="arn:aws:logs:us-east-1:000000000000:log-group:/boto3/eni",
                           DeliverLogsPermissionArn=ROLE, LogFormat=fmt, MaxAggregationInterval=60,
                           TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}])
check(len(out["FlowLogIds"]) == len(enis), "eni flow logs %r" % out)
check([u["ResourceId"] for u in out["Unsuccessful"]] == ["eni-00000000000000000"]
      and out["Unsuccessful"][0]["Error"]["Code"] == "InvalidNetworkInterfaceID.NotFound", "unsuccessful %r" % out)

fails("InvalidParameter", "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
      ec2.create_flow_logs, ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="g")
fails("InvalidParameter", "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
      ec2.create_flow_logs, ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="g",
      LogDestinationType="s3", LogDestination="arn:aws:s3:::bucket")
fails("InvalidParameter", "LogDestination must be in the same region as the API caller.",
      ec2.create_flow_logs, ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", DeliverLogsPermissionArn=ROLE,
      LogDestination="arn:aws:logs:eu-west-1:000000000000:log-group:g")
fails("InvalidParameterValue", "at 'logFormat' has an invalid format", ec2.create_flow_logs, ResourceType="VPC",
      ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="g", DeliverLogsPermissionArn=ROLE, LogFormat="${version} ")

# Describe: by id, filters, the paginator.
fl = ec2.describe_flow_logs(FlowLogIds=[vpc_fl])["FlowLogs"]
check(len(fl) == 1 and fl[0]["LogGroupName"] == "/boto3/vpc" and fl[0]["MaxAggregationInterval"] == 600
      and fl[0]["DeliverLogsStatus"] == "SUCCESS" and fl[0]["LogDestination"].endswith(":log-group:/boto3/vpc")
      and fl[0]["CreationTime"].tzinfo is not None, "describe %r" % fl)
check(ec2.describe_flow_logs(FlowLogIds=["fl-00000000000000000"])["FlowLogs"] == [], "unknown id is absent")
rej = ec2.describe_flow_logs(Filters=[{"Name": "traffic-type", "Values": ["REJECT"]},
                                      {"Name": "tag:team", "Values": ["net"]}])["FlowLogs"]
check(len(rej) == len(enis) and all(f["LogFormat"] == fmt and f["LogGroupName"] == "/boto3/eni" for f in rej), "filtered %r" % rej)
pages = list(ec2.get_paginator("describe_flow_logs").paginate(PaginationConfig={"PageSize": 5}))
seen = [f["FlowLogId"] for p in pages for f in p["FlowLogs"]]
check(sorted(seen) == sorted(set(seen)) and len(seen) == 1 + len(enis), "paginated %r" % seen)

# Tags on flow logs, then delete.
ec2.create_tags(Resources=[vpc_fl], Tags=[{"Key": "env", "Value": "test"}])
check(ec2.describe_flow_logs(Filters=[{"Name": "tag-key", "Values": ["env"]}])["FlowLogs"][0]["FlowLogId"] == vpc_fl, "tagged")
ec2.delete_tags(Resources=[vpc_fl], Tags=[{"Key": "env"}])
check(ec2.describe_flow_logs(Filters=[{"Name": "tag-key", "Values": ["env"]}])["FlowLogs"] == [], "untagged")
all_ids = [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]]
out = ec2.delete_flow_logs(FlowLogIds=all_ids + ["fl-00000000000000000"])
check([u["ResourceId"] for u in out["Unsuccessful"]] == ["fl-00000000000000000"]
      and out["Unsuccessful"][0]["Error"]["Code"] == "InvalidFlowLogId.NotFound", "delete %r" % out)
check(ec2.describe_flow_logs()["FlowLogs"] == [], "all deleted")

# An IAM user's keys: EC2 actions and iam:PassRole are authorized by the
# user's policies, and refusals are EC2's UnauthorizedOperation (HTTP 403).
iam = client("iam")
iam.create_user(UserName="ec2-bob")
ak = iam.create_access_key(UserName="ec2-bob")["AccessKey"]
iam.put_user_policy(UserName="ec2-bob", PolicyName="ec2", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateFlowLogs"], "Resource": "*"}]}))
bob = client("ec2", k=ak["AccessKeyId"], s=ak["SecretAccessKey"])
check(bob.describe_vpcs()["Vpcs"][0]["VpcId"] == vpc_id, "bob describes")
r = fails("UnauthorizedOperation", "iam:PassRole", bob.create_flow_logs, ResourceType="VPC", ResourceIds=[vpc_id],
          TrafficType="ALL", LogGroupName="/bob", DeliverLogsPermissionArn=ROLE).response
check(r["ResponseMetadata"]["HTTPStatusCode"] == 403, "403 %r" % r["ResponseMetadata"])
fails("UnauthorizedOperation", "ec2:DeleteFlowLogs", bob.delete_flow_logs, FlowLogIds=["fl-00000000000000000"])
check(ec2.describe_flow_logs()["FlowLogs"] == [], "refused create changed nothing")
iam.put_user_policy(UserName="ec2-bob", PolicyName="pass", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE}]}))
out = bob.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc_id], TrafficType="ALL", LogGroupName="/bob",
                           DeliverLogsPermissionArn=ROLE)
check(len(out["FlowLogIds"]) == 1, "bob creates with PassRole %r" % out)

passed("boto3 ec2")
