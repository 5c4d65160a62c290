"""What the boto3 scripts share: the server and credentials of their first
three arguments (ENDPOINT ACCESS_KEY SECRET_KEY; the scripts are run as
py/SCRIPT.py, so this module is found beside them), clients of it, and
checks counted for the line each script ends with.
"""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret = sys.argv[1:4]
# One attempt: a retry would hide the error a check expects.
_config = Config(retries={"max_attempts": 1, "mode": "standard"})
checks = 0


def client(service, region="us-east-1", k=None, s=None):
    """A client of the server, with the test's keys unless k and s are given."""
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key if k is None else k,
                        aws_secret_access_key=secret if s is None else s, config=_config)


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def fails(code, msg, fn, status=None, **kw):
    """Calls fn(**kw), which must fail with code, a message containing msg
    and, when given, HTTP status; returns the ClientError."""
    try:
        fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        check(err["Code"] == code and msg in err["Message"], "%s: got %s %r" % (code, err["Code"], err["Message"]))
        if status is not None:
            got = e.response["ResponseMetadata"]["HTTPStatusCode"]
            check(got == status, "%s: HTTP %s, want %s" % (code, got, status))
        return e
    raise AssertionError("expected %s" % code)


def passed(what):
    """Prints the line the Go test waits for."""
    print("%s: all checks passed (%d)" % (what, checks))
