"""Drives flowwatch's IAM and STS with boto3, and the authorization of an
IAM user's requests to CloudWatch Logs.

Usage: iam_boto3.py ENDPOINT ACCESS_KEY SECRET_KEY  (run by iam_test.go)
"""
import json
import time

from harness import check, client, fails, passed

iam, sts, logs = client("iam"), client("sts"), client("logs")


trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
perms = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
    "logs:DescribeLogStreams"], "Resource": "*"}]}

# Roles: the policy document comes back decoded into a dict, as from AWS.
r = iam.create_role(RoleName="flowlogsRole", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(trust),
                    MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "net"}])["Role"]
check(r["Arn"] == "arn:aws:iam::000000000000:role/service-role/flowlogsRole", r["Arn"])
check(r["AssumeRolePolicyDocument"] == trust, r["AssumeRolePolicyDocument"])
check(r["MaxSessionDuration"] == 7200 and r["Tags"] == [{"Key": "team", "Value": "net"}], r)
check(r["CreateDate"].tzinfo is not None, "CreateDate is a timestamp")
e = fails("NoSuchEntity", "The role with name nope cannot be found.", iam.get_role, status=404, RoleName="nope")
check(isinstance(e, iam.exceptions.NoSuchEntityException), "modeled NoSuchEntityException: %r" % type(e))
e = fails("EntityAlreadyExists", "Role with name flowlogsRole already exists.", iam.create_role, status=409,
          RoleName="flowlogsRole", AssumeRolePolicyDocument=json.dumps(trust))
check(isinstance(e, iam.exceptions.EntityAlreadyExistsException), "modeled EntityAlreadyExistsException")
fails("MalformedPolicyDocument", "Syntax errors in policy.", iam.create_role, status=400,
      RoleName="r2", AssumeRolePolicyDocument="{not json")
fails("MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.", iam.update_assume_role_policy,
      RoleName="flowlogsRole", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "logs:*"}]}))
fails("ValidationError", "Member must have value less than or equal to 43200", iam.create_role,
      RoleName="r3", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=50000)

iam.put_role_policy(RoleName="flowlogsRole", PolicyName="deliver", PolicyDocument=json.dumps(perms))
fails("MalformedPolicyDocument", "Policy statement must contain resources.", iam.put_role_policy, RoleName="flowlogsRole",
      PolicyName="bad", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*"}]}))
p = iam.get_role_policy(RoleName="flowlogsRole", PolicyName="deliver")
check(p["PolicyDocument"] == perms and p["PolicyName"] == "deliver", p)
check(iam.list_role_policies(RoleName="flowlogsRole")["PolicyNames"] == ["deliver"], "list_role_policies")
roles = iam.list_roles(PathPrefix="/service-role/")["Roles"]
check([x["RoleName"] for x in roles] == ["flowlogsRole"], roles)
check(iam.list_roles(PathPrefix="/other/")["Roles"] == [], "empty list_roles")
for i in range(3):
    iam.create_role(RoleName="page-%d" % i, AssumeRolePolicyDocument=json.dumps(trust))
pg = iam.get_paginator("list_roles")
names = [x["RoleName"] for page in pg.paginate(PaginationConfig={"PageSize": 2}) for x in page["Roles"]]
check(names == ["flowlogsRole", "page-0", "page-1", "page-2"], names)
fails("DeleteConflict", "Cannot delete entity, must delete policies first.", iam.delete_role, status=409, RoleName="flowlogsRole")

# Customer managed policies: attached policies are evaluated with inline ones.
mp = iam.create_policy(PolicyName="deliver-managed", Path="/flow/", PolicyDocument=json.dumps(perms))["Policy"]
check(mp["Arn"] == "arn:aws:iam::000000000000:policy/flow/deliver-managed" and mp["DefaultVersionId"] == "v1", mp)
iam.attach_role_policy(RoleName="flowlogsRole", PolicyArn=mp["Arn"])
att = iam.list_attached_role_policies(RoleName="flowlogsRole")["AttachedPolicies"]
check(att == [{"PolicyName": "deliver-managed", "PolicyArn": mp["Arn"]}], att)
pv = iam.get_policy_version(PolicyArn=mp["Arn"], VersionId="v1")["PolicyVersion"]
check(pv["Document"] == perms and pv["IsDefaultVersion"], pv)
check(iam.get_policy(PolicyArn=mp["Arn"])["Policy"]["AttachmentCount"] == 1, "AttachmentCount")
fails("NoSuchEntity", "does not exist or is not attachable", iam.attach_role_policy, status=404,
      RoleName="flowlogsRole", PolicyArn="arn:aws:iam::aws:policy/CloudWatchLogsFullAccess")
fails("DeleteConflict", "Cannot delete a policy attached to entities.", iam.delete_policy, PolicyArn=mp["Arn"])
iam.detach_role_policy(RoleName="flowlogsRole", PolicyArn=mp["Arn"])
iam.delete_policy(PolicyArn=mp["Arn"])
check(iam.list_policies(Scope="Local")["Policies"] == [], "list_policies after delete")

# Users and keys.
u = iam.create_user(UserName="bob")["User"]
check(u["Arn"] == "arn:aws:iam::000000000000:user/bob" and u["UserId"].startswith("AIDA"), u)
check(iam.get_user(UserName="bob")["User"]["UserName"] == "bob", "get_user")
check([x["UserName"] for x in iam.list_users()["Users"]] == ["bob"], "list_users")
ak = iam.create_access_key(UserName="bob")["AccessKey"]
check(ak["AccessKeyId"].startswith("AKIA") and len(ak["SecretAccessKey"]) == 40, ak)
check(sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root", "root identity")
bob_sts = client("sts", k=ak["AccessKeyId"], s=ak["SecretAccessKey"])
ident = bob_sts.get_caller_identity()
check(ident["Arn"] == u["Arn"] and ident["UserId"] == u["UserId"] and ident["Account"] == "000000000000", ident)

bob_logs = client("logs", k=ak["AccessKeyId"], s=ak["SecretAccessKey"])
bob_iam = client("iam", k=ak["AccessKeyId"], s=ak["SecretAccessKey"])
fails("AccessDeniedException", "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: logs:DescribeLogGroups",
      bob_logs.describe_log_groups)
iam.put_user_policy(UserName="bob", PolicyName="logs", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
                                            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"}]}))
check(bob_iam.get_user()["User"]["UserName"] == "bob", "get_user of the caller")
bob_logs.create_log_group(logGroupName="bob-g")
bob_logs.create_log_stream(logGroupName="bob-g", logStreamName="s")
bob_logs.put_log_events(logGroupName="bob-g", logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}])
check([g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["bob-g"], "bob's group exists")
iam.put_user_policy(UserName="bob", PolicyName="no-put", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:PutLogEvents",
                                             "Resource": "arn:aws:logs:*:*:log-group:bob-g:log-stream:*"}]}))
fails("AccessDeniedException", "logs:PutLogEvents on resource: arn:aws:logs:us-east-1:000000000000:log-group:bob-g:log-stream:s with an explicit deny",
      bob_logs.put_log_events, logGroupName="bob-g", logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": "x"}])
ev = logs.get_log_events(logGroupName="bob-g", logStreamName="s")["events"]
check([x["message"] for x in ev] == ["m"], "a denied PutLogEvents wrote nothing: %r" % ev)
fails("AccessDenied", "iam:CreateUser", bob_iam.create_user, status=403, UserName="mallory")
check(iam.list_user_policies(UserName="bob")["PolicyNames"] == ["logs", "no-put"], "list_user_policies")
gp = iam.get_user_policy(UserName="bob", PolicyName="no-put")
check(gp["PolicyDocument"]["Statement"][0]["Effect"] == "Deny", gp)

keys = iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]
check([k["AccessKeyId"] for k in keys] == [ak["AccessKeyId"]] and "SecretAccessKey" not in keys[0], keys)
iam.create_access_key(UserName="bob")
fails("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", iam.create_access_key, status=409, UserName="bob")
for k in iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]:
    iam.delete_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"])
fails("InvalidClientTokenId", "The security token included in the request is invalid.", bob_sts.get_caller_identity, status=403)
for name in ("logs", "no-put"):
    iam.delete_user_policy(UserName="bob", PolicyName=name)
iam.delete_user(UserName="bob")
fails("NoSuchEntity", "The user with name bob cannot be found.", iam.get_user, UserName="bob")
iam.delete_role_policy(RoleName="flowlogsRole", PolicyName="deliver")
iam.delete_role(RoleName="flowlogsRole")

passed("boto3 iam")
