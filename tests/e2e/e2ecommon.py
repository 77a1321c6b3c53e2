"""Shared pieces of the end-to-end tests: CloudTrail event factory, detections, and a
full stack (five services, a webhook output) ready to take files."""
import datetime as dt
import gzip
import json
import os
import pathlib
import random
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, WebhookReceiver, wait_until  # noqa: E402,F401

T0 = dt.datetime(2026, 11, 1, 10, 0, 0, tzinfo=dt.timezone.utc)

DETECTIONS = {
    "root_login.yml": """\
AnalysisType: rule
RuleID: Test.Console.RootLogin
DisplayName: Root console login
Enabled: true
LogTypes:
  - AWS.CloudTrail
Severity: High
DedupPeriodMinutes: 60
Threshold: 1
AlertTitle: "Root console login in account {recipientAccountId}"
Detection:
  - Key: eventName
    Condition: Equals
    Value: ConsoleLogin
  - KeyPath: userIdentity.type
    Condition: Equals
    Value: Root
""",
    "no_mfa.yml": """\
AnalysisType: rule
RuleID: Test.Console.NoMFA
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Medium
DedupPeriodMinutes: 60
Threshold: 50
AlertTitle: "Console logins without MFA for {userIdentity.userName}"
Detection:
  - Key: eventName
    Condition: Equals
    Value: ConsoleLogin
  - KeyPath: additionalEventData.MFAUsed
    Condition: Equals
    Value: "No"
""",
}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def ct_event(rng, when, kind="noise", account="123456789012"):
    """One CloudTrail record shaped like the real thing (~1.4 KB)."""
    ip = "198.51.100.%d" % rng.randint(1, 254)
    ev = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA%012d" % rng.randint(0, 10**12),
            "arn": "arn:aws:iam::%s:user/alice" % account,
            "accountId": account,
            "accessKeyId": "AKIA%016d" % rng.randint(0, 10**16),
            "userName": "alice",
            "sessionContext": {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(when), "mfaAuthenticated": "false"},
            },
        },
        "eventTime": iso(when),
        "eventSource": "s3.amazonaws.com",
        "eventName": rng.choice(["GetObject", "ListBuckets", "DescribeInstances", "PutObject"]),
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.13.0 Python/3.11.4 Linux/6.1 botocore/2.4.5",
        "requestParameters": {"bucketName": "logs-%d" % rng.randint(1, 9), "Host": "s3.amazonaws.com",
                              "key": "data/%08x.json" % rng.getrandbits(32)},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                                "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                "x-amz-id-2": "%064x" % rng.getrandbits(256), "bytesTransferredOut": 512},
        "requestID": "%016X" % rng.getrandbits(64),
        "eventID": "%08x-%04x-%04x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                                  rng.getrandbits(16), rng.getrandbits(48)),
        "readOnly": True,
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::logs-1/data/x.json"},
                      {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::logs-1"}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                       "clientProvidedHostHeader": "logs-1.s3.amazonaws.com"},
    }
    if kind == "root_login":
        ev["eventName"] = "ConsoleLogin"
        ev["eventSource"] = "signin.amazonaws.com"
        ev["userIdentity"] = {"type": "Root", "principalId": account,
                              "arn": "arn:aws:iam::%s:root" % account, "accountId": account}
        ev["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No",
                                     "MFAUsed": "Yes"}
        ev["responseElements"] = {"ConsoleLogin": "Success"}
        ev["eventType"] = "AwsConsoleSignIn"
        ev["managementEvent"] = True
        ev["readOnly"] = False
    elif kind == "no_mfa":
        ev["eventName"] = "ConsoleLogin"
        ev["eventSource"] = "signin.amazonaws.com"
        ev["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No",
                                     "MFAUsed": "No"}
        ev["responseElements"] = {"ConsoleLogin": "Success"}
        ev["eventType"] = "AwsConsoleSignIn"
    return ev


def ct_events(n, matches, start=T0, spread_minutes=30, seed=1, account="123456789012"):
    """n events in time order over spread_minutes; `matches` maps kind -> how many."""
    rng = random.Random(seed)
    kinds = []
    for kind, k in matches.items():
        kinds += [kind] * k
    kinds += ["noise"] * (n - len(kinds))
    rng.shuffle(kinds)
    step = spread_minutes * 60.0 / max(n, 1)
    return [ct_event(rng, start + dt.timedelta(seconds=i * step), kind, account)
            for i, kind in enumerate(kinds)]


def gzip_records(events):
    """CloudTrail's own file form: {"Records":[...]} gzip-compressed."""
    return gzip.compress(json.dumps({"Records": events}).encode())


def gzip_lines(lines):
    return gzip.compress(("\n".join(lines) + "\n").encode())


def write_detections(st, names=None):
    d = st.tmp / "detections"
    d.mkdir(exist_ok=True)
    for name, body in DETECTIONS.items():
        if names is None or name in names:
            (d / name).write_text(body)
    return d


class Pipeline:
    """A full stack with a CloudTrail source and a webhook output."""

    def __init__(self, st, wh, extra_env=None):
        self.st = st
        self.wh = wh
        self.rules_dir = write_detections(st)
        self.env = {"OCELOT_RULES_DIR": str(self.rules_dir)}
        self.env.update(extra_env or {})
        st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail", "--bucket", "logs",
                  "--prefix", "cloudtrail/", "--log-type", "AWS.CloudTrail")
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Test hook",
                  "--url", wh.url, "--timeout-ms", "3000")
        self.svcs = {}
        for name in ("log-router", "log-processor", "rules-engine", "alert-forwarder", "alert-delivery"):
            self.svcs[name] = st.service(name, env=self.env)
        for svc in self.svcs.values():
            svc.wait_ready(60)

    def drop(self, key, data):
        self.st.put_object("logs", key, data)
        self.st.notify("logs", key)

    def alerts_for(self, rule_id):
        return [r for r in self.wh.requests if r["body_json"].get("rule_id") == rule_id]

    def dlq_records(self):
        out = {}
        for t in ("input-notifications", "processed-files", "rule-matches", "alerts"):
            p = self.st.ocelot("topic", "dump", t + ".dlq", "--timeout-ms", "3000")
            out[t] = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        return out


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, flush=True)
