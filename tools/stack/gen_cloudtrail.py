#!/usr/bin/env python3
"""Deterministic generator of realistic AWS CloudTrail events.

Background traffic looks like a real account's trail (S3 data events from roles, EC2 and
IAM reads from people on the CLI and the console, STS role assumptions by AWS services,
KMS decrypts, Lambda and CloudWatch Logs calls, the odd AccessDenied, console logins with
MFA). On top, it injects N events of named scenarios that detections look for:

  root_login         ConsoleLogin by the root user (userIdentity.type Root)
  create_access_key  iam:CreateAccessKey by an IAM user for another user
  stop_logging       cloudtrail:StopLogging on the organisation trail
  no_mfa             ConsoleLogin by an IAM user without MFA (additionalEventData.MFAUsed "No")

Same arguments, same output (seeded). Events are in time order, ~1.4 KB each.

As a module:
    import gen_cloudtrail
    events = gen_cloudtrail.generate(1000, {"root_login": 40}, seed=7)
    data = gen_cloudtrail.encode(events, form="records", gz=True)

As a program:
    gen_cloudtrail.py -n 1000 --root-logins 3 --stop-logging 1 -o trail.json.gz
"""
import argparse
import datetime as dt
import gzip
import json
import random
import sys

SCENARIOS = ("root_login", "create_access_key", "stop_logging", "no_mfa")

DEFAULT_START = dt.datetime(2026, 11, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
ACCOUNT = "123456789012"

USERS = ["alice", "bob", "carol", "dave", "erin"]
ROLES = [
    ("lambda-ingest-exec", "i-session"),
    ("ci-deployer", "gha-run"),
    ("OrganizationAccountAccessRole", "admin-session"),
    ("eks-node-group", "i-0f1e2d3c4b5a69788"),
]
# Documentation (TEST-NET) addresses: realistic shape, nobody's real address.
PEOPLE_IPS = ["198.51.100.%d" % i for i in (7, 23, 42, 77, 130, 201)] + \
             ["203.0.113.%d" % i for i in (5, 19, 88, 154)]
ATTACKER_IPS = ["192.0.2.%d" % i for i in (13, 66, 250)]
AGENTS_CLI = [
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.1.0-13-amd64 exe/x86_64.debian.12 prompt/off command/s3.ls",
    "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64 prompt/off command/ec2.describe-instances",
    "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62",
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.40.0",
    "terraform/1.6.2 (+https://www.terraform.io) terraform-provider-aws/5.21.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.45.24 (go1.20.8; linux; amd64)",
]
AGENT_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/119.0.0.0 Safari/537.36")
REGIONS = ["us-east-1", "us-east-1", "us-east-1", "us-west-2", "eu-west-1"]
TLS_CIPHERS = ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]


def _iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Gen:
    def __init__(self, rng, account, region):
        self.rng = rng
        self.account = account
        self.region = region
        self.user_ids = {u: "AIDA" + self._upper(17) for u in USERS + ["svc-backup"]}
        self.role_ids = {r: "AROA" + self._upper(17) for r, _ in ROLES}

    def _upper(self, n):
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))

    def _hex(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def _uuid(self):
        return "%s-%s-4%s-%s%s-%s" % (self._hex(8), self._hex(4), self._hex(3), self.rng.choice("89ab"),
                                      self._hex(3), self._hex(12))

    def _tls(self, host):
        return {"tlsVersion": self.rng.choice(["TLSv1.2", "TLSv1.3"]), "cipherSuite": self.rng.choice(TLS_CIPHERS),
                "clientProvidedHostHeader": host}

    # -- identities

    def iam_user(self, when, name=None, with_key=True, mfa=False):
        name = name or self.rng.choice(USERS)
        ident = {
            "type": "IAMUser",
            "principalId": self.user_ids.get(name, "AIDA" + self._upper(17)),
            "arn": "arn:aws:iam::%s:user/%s" % (self.account, name),
            "accountId": self.account,
            "userName": name,
        }
        if with_key:
            ident["accessKeyId"] = "AKIA" + self._upper(16)
            ident["sessionContext"] = {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": _iso(when - dt.timedelta(minutes=self.rng.randint(1, 600))),
                               "mfaAuthenticated": "true" if mfa else "false"},
            }
        return ident

    def assumed_role(self, when, role=None):
        role, session = role or self.rng.choice(ROLES)
        rid = self.role_ids.get(role, "AROA" + self._upper(17))
        return {
            "type": "AssumedRole",
            "principalId": "%s:%s" % (rid, session),
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (self.account, role, session),
            "accountId": self.account,
            "accessKeyId": "ASIA" + self._upper(16),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": rid,
                                  "arn": "arn:aws:iam::%s:role/%s" % (self.account, role),
                                  "accountId": self.account, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": _iso(when - dt.timedelta(minutes=self.rng.randint(1, 55))),
                               "mfaAuthenticated": "false"},
                "ec2RoleDelivery": "2.0" if role == "eks-node-group" else None,
            },
        }

    # -- the common envelope

    def base(self, when, ident, source, name, ip, agent, region=None, read_only=True, category="Management",
             event_type="AwsApiCall", management=True):
        region = region or self.region
        ev = {
            "eventVersion": "1.09" if self.rng.random() < 0.6 else "1.08",
            "userIdentity": ident,
            "eventTime": _iso(when),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
            "requestParameters": None,
            "responseElements": None,
            "requestID": self._uuid() if source != "s3.amazonaws.com" else self._upper(16),
            "eventID": self._uuid(),
            "readOnly": read_only,
            "eventType": event_type,
            "managementEvent": management,
            "recipientAccountId": self.account,
            "eventCategory": category,
        }
        host = "%s.%s.amazonaws.com" % (source.split(".")[0], region)
        if source in ("iam.amazonaws.com", "signin.amazonaws.com"):
            host = source if source == "iam.amazonaws.com" else "signin.aws.amazon.com"
        if ip not in ("AWS Internal",) and not ip.endswith("amazonaws.com"):
            ev["tlsDetails"] = self._tls(host)
        return ev

    # -- background traffic

    def noise(self, when):
        r = self.rng.random()
        if r < 0.30:
            return self.s3_data(when)
        if r < 0.45:
            return self.ec2_describe(when)
        if r < 0.57:
            return self.sts_assume(when)
        if r < 0.67:
            return self.kms_decrypt(when)
        if r < 0.75:
            return self.iam_read(when)
        if r < 0.83:
            return self.logs_call(when)
        if r < 0.90:
            return self.lambda_call(when)
        if r < 0.96:
            return self.access_denied(when)
        return self.console_login(when, mfa=True)

    def s3_data(self, when):
        write = self.rng.random() < 0.3
        bucket = self.rng.choice(["acme-prod-data", "acme-logs-archive", "acme-ml-features", "acme-web-assets"])
        key = "%s/%04d/%02d/%02d/part-%05d-%s.parquet" % (
            self.rng.choice(["events", "exports", "features"]), when.year, when.month, when.day,
            self.rng.randint(0, 99999), self._hex(8))
        ev = self.base(when, self.assumed_role(when), "s3.amazonaws.com", "PutObject" if write else "GetObject",
                       self.rng.choice(PEOPLE_IPS + ["10.0.%d.%d" % (self.rng.randint(0, 15), self.rng.randint(2, 250))]),
                       self.rng.choice(AGENTS_CLI), read_only=not write, category="Data", management=False)
        ev["requestParameters"] = {"bucketName": bucket, "Host": "%s.s3.%s.amazonaws.com" % (bucket, ev["awsRegion"]),
                                   "key": key}
        if write:
            ev["requestParameters"]["x-amz-server-side-encryption"] = "aws:kms"
        ev["additionalEventData"] = {
            "SignatureVersion": "SigV4", "CipherSuite": self.rng.choice(TLS_CIPHERS),
            "bytesTransferredIn": self.rng.randint(1000, 900000) if write else 0,
            "SSEApplied": "SSE_KMS" if write else "Default_SSE_S3",
            "AuthenticationMethod": "AuthHeader", "x-amz-id-2": self._hex(56),
            "bytesTransferredOut": 0 if write else self.rng.randint(1000, 9000000),
        }
        ev["resources"] = [
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
            {"accountId": self.account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket},
        ]
        ev["sharedEventID"] = self._uuid() if self.rng.random() < 0.1 else None
        if ev["sharedEventID"] is None:
            del ev["sharedEventID"]
        return ev

    def ec2_describe(self, when):
        name = self.rng.choice(["DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeVpcs"])
        ev = self.base(when, self.iam_user(when), "ec2.amazonaws.com", name, self.rng.choice(PEOPLE_IPS),
                       self.rng.choice(AGENTS_CLI), region=self.rng.choice(REGIONS))
        if name == "DescribeInstances":
            ev["requestParameters"] = {"instancesSet": {"items": [{"instanceId": "i-%s" % self._hex(17)}]},
                                       "filterSet": {}, "includeAllInstances": False}
        else:
            ev["requestParameters"] = {"filterSet": {"items": [{"name": "vpc-id", "valueSet": {
                "items": [{"value": "vpc-%s" % self._hex(17)}]}}]}, "maxResults": 1000}
        return ev

    def sts_assume(self, when):
        role, session = self.rng.choice(ROLES)
        svc = self.rng.choice(["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])
        ev = self.base(when, {"type": "AWSService", "invokedBy": svc}, "sts.amazonaws.com", "AssumeRole", svc, svc,
                       read_only=True)
        ev["requestParameters"] = {"roleArn": "arn:aws:iam::%s:role/%s" % (self.account, role),
                                   "roleSessionName": session, "durationSeconds": 3600}
        ev["responseElements"] = {
            "credentials": {"accessKeyId": "ASIA" + self._upper(16), "sessionToken": self._hex(64),
                            "expiration": (when + dt.timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p")},
            "assumedRoleUser": {"assumedRoleId": "%s:%s" % (self.role_ids[role], session),
                                "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (self.account, role, session)},
        }
        ev["resources"] = [{"accountId": self.account, "type": "AWS::IAM::Role",
                            "ARN": "arn:aws:iam::%s:role/%s" % (self.account, role)}]
        ev["sharedEventID"] = self._uuid()
        return ev

    def kms_decrypt(self, when):
        key_id = self._uuid()
        ev = self.base(when, self.assumed_role(when), "kms.amazonaws.com", "Decrypt", "AWS Internal", "AWS Internal",
                       read_only=True)
        ev["requestParameters"] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                                   "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::acme-prod-data"}}
        ev["resources"] = [{"accountId": self.account, "type": "AWS::KMS::Key",
                            "ARN": "arn:aws:kms:%s:%s:key/%s" % (self.region, self.account, key_id)}]
        ev["userIdentity"]["invokedBy"] = "s3.amazonaws.com"
        return ev

    def iam_read(self, when):
        name = self.rng.choice(["ListRoles", "GetUser", "ListAttachedRolePolicies", "GetRole"])
        ev = self.base(when, self.iam_user(when), "iam.amazonaws.com", name, self.rng.choice(PEOPLE_IPS),
                       self.rng.choice(AGENTS_CLI), region="us-east-1")
        if name in ("GetRole", "ListAttachedRolePolicies"):
            ev["requestParameters"] = {"roleName": self.rng.choice(ROLES)[0]}
        elif name == "GetUser":
            ev["requestParameters"] = {"userName": self.rng.choice(USERS)}
        else:
            ev["requestParameters"] = {"maxItems": 100, "pathPrefix": "/"}
        return ev

    def logs_call(self, when):
        group = "/aws/lambda/%s" % self.rng.choice(["ingest-s3", "thumbnailer", "billing-export"])
        ev = self.base(when, self.assumed_role(when, ROLES[0]), "logs.amazonaws.com", "CreateLogStream",
                       "AWS Internal", "awslambda-worker/1.0 rusoto/0.48.0 rust/1.69.0 linux", read_only=False)
        ev["requestParameters"] = {"logGroupName": group,
                                   "logStreamName": "%s/[$LATEST]%s" % (when.strftime("%Y/%m/%d"), self._hex(32))}
        return ev

    def lambda_call(self, when):
        fn = self.rng.choice(["ingest-s3", "thumbnailer", "billing-export"])
        ev = self.base(when, self.assumed_role(when, ROLES[1]), "lambda.amazonaws.com", "GetFunction20150331v2",
                       self.rng.choice(PEOPLE_IPS), self.rng.choice(AGENTS_CLI))
        ev["requestParameters"] = {"functionName": "arn:aws:lambda:%s:%s:function:%s" % (self.region, self.account, fn)}
        return ev

    def access_denied(self, when):
        ev = self.base(when, self.iam_user(when), "secretsmanager.amazonaws.com", "GetSecretValue",
                       self.rng.choice(PEOPLE_IPS), self.rng.choice(AGENTS_CLI))
        ev["errorCode"] = "AccessDenied"
        ev["errorMessage"] = ("User: %s is not authorized to perform: secretsmanager:GetSecretValue on resource: "
                              "prod/db/password because no identity-based policy allows the "
                              "secretsmanager:GetSecretValue action" % ev["userIdentity"]["arn"])
        ev["requestParameters"] = {"secretId": "prod/db/password"}
        return ev

    def console_login(self, when, mfa, name=None, ip=None):
        ident = self.iam_user(when, name=name, with_key=False)
        ev = self.base(when, ident, "signin.amazonaws.com", "ConsoleLogin", ip or self.rng.choice(PEOPLE_IPS),
                       AGENT_BROWSER, region="us-east-1", read_only=False, event_type="AwsConsoleSignIn")
        ev["responseElements"] = {"ConsoleLogin": "Success"}
        ev["additionalEventData"] = {
            "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + self._hex(16),
            "MobileVersion": "No",
            "MFAIdentifier": "arn:aws:iam::%s:mfa/%s" % (self.account, ident["userName"]) if mfa else None,
            "MFAUsed": "Yes" if mfa else "No",
        }
        if not mfa:
            del ev["additionalEventData"]["MFAIdentifier"]
        return ev

    # -- scenarios

    def root_login(self, when):
        ident = {"type": "Root", "principalId": self.account, "arn": "arn:aws:iam::%s:root" % self.account,
                 "accountId": self.account, "accessKeyId": ""}
        ev = self.base(when, ident, "signin.amazonaws.com", "ConsoleLogin", self.rng.choice(ATTACKER_IPS),
                       AGENT_BROWSER, region="us-east-1", read_only=False, event_type="AwsConsoleSignIn")
        ev["responseElements"] = {"ConsoleLogin": "Success"}
        ev["additionalEventData"] = {
            "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + self._hex(16),
            "MobileVersion": "No", "MFAIdentifier": "arn:aws:iam::%s:mfa/root-account-mfa-device" % self.account,
            "MFAUsed": "Yes"}
        return ev

    def create_access_key(self, when):
        ev = self.base(when, self.iam_user(when, name="alice"), "iam.amazonaws.com", "CreateAccessKey",
                       self.rng.choice(ATTACKER_IPS), self.rng.choice(AGENTS_CLI), region="us-east-1", read_only=False)
        key = "AKIA" + self._upper(16)
        ev["requestParameters"] = {"userName": "svc-backup"}
        ev["responseElements"] = {"accessKey": {"userName": "svc-backup", "accessKeyId": key, "status": "Active",
                                                "createDate": when.strftime("%b %d, %Y, %I:%M:%S %p")}}
        return ev

    def stop_logging(self, when):
        ev = self.base(when, self.assumed_role(when, ROLES[2]), "cloudtrail.amazonaws.com", "StopLogging",
                       self.rng.choice(ATTACKER_IPS), self.rng.choice(AGENTS_CLI), read_only=False)
        ev["requestParameters"] = {"name": "arn:aws:cloudtrail:%s:%s:trail/org-management-events"
                                           % (self.region, self.account)}
        ev["resources"] = [{"accountId": self.account, "type": "AWS::CloudTrail::Trail",
                            "ARN": ev["requestParameters"]["name"]}]
        return ev

    def no_mfa(self, when):
        return self.console_login(when, mfa=False, name="bob", ip=self.rng.choice(PEOPLE_IPS[:2]))


def _drop_nulls(ev):
    sc = ev.get("userIdentity", {}).get("sessionContext")
    if sc and sc.get("ec2RoleDelivery") is None:
        sc.pop("ec2RoleDelivery", None)
    return ev


def generate(count=1000, scenarios=None, seed=1, start=None, spread_minutes=60.0, account=ACCOUNT,
             region="us-east-1"):
    """`count` CloudTrail events (dicts) in time order from `start` over `spread_minutes`,
    of which scenarios[kind] are events of that scenario kind (see SCENARIOS); the rest is
    background traffic that matches none of them. If the scenarios add up to more than
    count, there are that many events. Deterministic for the same arguments."""
    scenarios = dict(scenarios or {})
    for kind in scenarios:
        if kind not in SCENARIOS:
            raise ValueError("unknown scenario %r (known: %s)" % (kind, ", ".join(SCENARIOS)))
    if start is None:
        start = DEFAULT_START
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    rng = random.Random(seed)
    gen = _Gen(rng, account, region)
    kinds = []
    for kind in SCENARIOS:  # fixed order: the shuffle below stays deterministic
        kinds += [kind] * int(scenarios.get(kind, 0))
    kinds += ["noise"] * max(0, count - len(kinds))
    rng.shuffle(kinds)
    n = len(kinds)
    step = spread_minutes * 60.0 / max(n, 1)
    out = []
    for i, kind in enumerate(kinds):
        when = start + dt.timedelta(seconds=int(i * step + rng.random() * step * 0.9))
        ev = gen.noise(when) if kind == "noise" else getattr(gen, kind)(when)
        out.append(_drop_nulls(ev))
    return out


def encode(events, form="lines", gz=False):
    """bytes: JSON lines ("lines") or CloudTrail's own file form {"Records":[...]}
    ("records"), gzip-compressed when gz."""
    if form == "records":
        data = json.dumps({"Records": events}, separators=(",", ":")).encode()
    elif form == "lines":
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    else:
        raise ValueError("form must be lines or records")
    # mtime=0: the same events give the same bytes.
    return gzip.compress(data, mtime=0) if gz else data


def write(path, events, form="lines", gz=None):
    """Writes events to path (gzip when gz, or when gz is None and path ends in .gz)."""
    if gz is None:
        gz = str(path).endswith(".gz")
    data = encode(events, form, gz)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def _parse_time(s):
    if s == "now":
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if s.startswith("now-") and s.endswith("m"):
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=float(s[4:-1]))
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate realistic CloudTrail events (deterministic per seed).")
    ap.add_argument("-n", "--count", type=int, default=1000, help="events in all (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default=_iso(DEFAULT_START),
                    help="first event time, ISO 8601, 'now' or 'now-90m' (default %(default)s)")
    ap.add_argument("--spread-minutes", type=float, default=60.0, help="event times span this many minutes")
    ap.add_argument("--account", default=ACCOUNT, help="AWS account id")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--root-logins", type=int, default=0, help="root console logins to inject")
    ap.add_argument("--create-access-keys", type=int, default=0, help="CreateAccessKey events to inject")
    ap.add_argument("--stop-logging", type=int, default=0, help="StopLogging events to inject")
    ap.add_argument("--no-mfa-logins", type=int, default=0, help="console logins without MFA to inject")
    ap.add_argument("--form", choices=("lines", "records"), default="lines",
                    help="JSON lines, or CloudTrail's {\"Records\":[...]} file form")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--gzip", dest="gz", action="store_true", default=None, help="gzip the output")
    g.add_argument("--no-gzip", dest="gz", action="store_false", help="plain output")
    ap.add_argument("-o", "--output", default="-", help="file (default stdout); .gz implies --gzip")
    a = ap.parse_args(argv)
    if a.count < 0 or a.count > 10_000_000:
        ap.error("--count must be between 0 and 10000000")
    scenarios = {"root_login": a.root_logins, "create_access_key": a.create_access_keys,
                 "stop_logging": a.stop_logging, "no_mfa": a.no_mfa_logins}
    events = generate(a.count, scenarios, seed=a.seed, start=_parse_time(a.start),
                      spread_minutes=a.spread_minutes, account=a.account, region=a.region)
    gz = a.gz if a.gz is not None else a.output.endswith(".gz")
    data = encode(events, a.form, gz)
    if a.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(a.output, "wb") as f:
            f.write(data)
    injected = ", ".join("%d %s" % (v, k) for k, v in scenarios.items() if v)
    print("wrote %d events (%s) %s, %d bytes, to %s" % (len(events), injected or "background only",
                                                        a.form, len(data), a.output), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
