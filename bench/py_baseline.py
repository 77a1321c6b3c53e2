#!/usr/bin/env python3
"""The pure-Python baseline of the Python rules benchmark (bench_pyrules.c), and its inputs.

    py_baseline.py generate DIR [-n EVENTS] [--rules N]
        writes DIR/events.jsonl (normalized AWS.CloudTrail lake lines, from
        tools/stack/gen_cloudtrail.py, ~1.5 KB each), DIR/pack-rule (N Panther rules with
        rule() only) and DIR/pack-full (the same rules with title/dedup/alert_context/
        severity on top), each with a global helper panther_base_helpers.
    py_baseline.py run PACK EVENTS [--aux] [--repeat R]
        runs the pack the way Panther's own engine does: per event json.loads, a
        PantherEvent (an immutable Mapping with exact-then-case-insensitive lookup, nested
        containers wrapped on access, deep_get), every rule of the log type; with --aux the
        auxiliary functions run on a match (title, dedup falling back to the title,
        alert_context as JSON with its size check, severity). Prints one JSON line with
        events, matches, errors, wall and CPU seconds and the rates.

The event classes follow panther_core's ImmutableCaseInsensitiveDict / ImmutableList /
PantherEvent (panther_core/immutable.py and enriched_event.py): the case-insensitive key
map is built when a dict is wrapped, containers are shallow-copied and wrapped on access.
"""
import argparse
import collections.abc
import copy
import importlib.util
import json
import os
import random
import resource
import sys
import time
from functools import reduce

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- the Panther-style event ------------------------------------------------------------


class ImmutableList(collections.abc.Sequence):
    def __init__(self, container):
        self._container = tuple(container)

    def __getitem__(self, i):
        return _ensure_immutable(self._container[i])

    def __len__(self):
        return len(self._container)

    def __eq__(self, other):
        if isinstance(other, ImmutableList):
            other = other._container
        if isinstance(other, (list, tuple)):
            return list(self._container) == list(other)
        return NotImplemented


class ImmutableCaseInsensitiveDict(collections.abc.Mapping):
    def __init__(self, container):
        self._container = copy.copy(container)
        self._case_insensitive_keymap = {k.lower(): k for k in self._container}

    def __getitem__(self, key):
        if key in self._container:
            return _ensure_immutable(self._container[key])
        real = self._case_insensitive_keymap.get(key.lower()) if isinstance(key, str) else None
        if real is None:
            raise KeyError(key)
        return _ensure_immutable(self._container[real])

    def __contains__(self, key):
        if key in self._container:
            return True
        return isinstance(key, str) and key.lower() in self._case_insensitive_keymap

    def __iter__(self):
        return iter(self._container)

    def __len__(self):
        return len(self._container)


def _ensure_immutable(v):
    if isinstance(v, dict):
        return ImmutableCaseInsensitiveDict(v)
    if isinstance(v, list):
        return ImmutableList(v)
    return v


class PantherEvent(ImmutableCaseInsensitiveDict):
    def __init__(self, event, data_model=None):
        super().__init__(event)
        self.data_model = data_model

    def deep_get(self, *keys, default=None):
        out = reduce(lambda d, k: d.get(k, default) if isinstance(d, collections.abc.Mapping)
                     else default, keys, self)
        return default if out is None else out

    def udm(self, *keys, default=None):
        return default


# ---- generation ---------------------------------------------------------------------------

HELPERS = '''"""Panther's base helpers, the few the benchmark rules use."""
from collections.abc import Mapping
from functools import reduce


def deep_get(dictionary, *keys, default=None):
    out = reduce(lambda d, key: d.get(key, default) if isinstance(d, Mapping) else default,
                 keys, dictionary)
    if out is None:
        return default
    return out


def aws_cloudtrail_success(event):
    if event.get("errorCode", "") or event.get("errorMessage", ""):
        return False
    return True


def aws_rule_context(event):
    return {
        "eventName": event.get("eventName", "<MISSING_EVENT_NAME>"),
        "eventSource": event.get("eventSource", "<MISSING_ACCOUNT_ID>"),
        "awsRegion": event.get("awsRegion", "<MISSING_AWS_REGION>"),
        "recipientAccountId": event.get("recipientAccountId", "<MISSING_ACCOUNT_ID>"),
        "sourceIPAddress": event.get("sourceIPAddress", "<MISSING_SOURCE_IP>"),
        "userAgent": event.get("userAgent", "<MISSING_USER_AGENT>"),
        "userIdentity": event.get("userIdentity", "<MISSING_USER_IDENTITY>"),
    }
'''

NAMES = ["StopLogging", "DeleteTrail", "UpdateTrail", "PutBucketPolicy", "DeleteBucket",
         "CreateAccessKey", "CreateUser", "AttachUserPolicy", "PutUserPolicy", "ConsoleLogin",
         "GetSecretValue", "AssumeRole", "Decrypt", "DeleteLogGroup", "ModifyInstanceAttribute",
         "AuthorizeSecurityGroupIngress", "CreateLoginProfile", "UpdateAssumeRolePolicy",
         "DisableKey", "ScheduleKeyDeletion", "GetObject", "PutObject", "DescribeInstances",
         "GetRole", "ListRoles", "CreateLogStream", "GetFunction20150331v2", "GetUser"]
SOURCES = ["cloudtrail.amazonaws.com", "s3.amazonaws.com", "iam.amazonaws.com",
           "kms.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com",
           "secretsmanager.amazonaws.com", "logs.amazonaws.com", "lambda.amazonaws.com",
           "signin.amazonaws.com", "guardduty.amazonaws.com", "config.amazonaws.com"]
BUCKETS = ["acme-logs-archive", "acme-prod-data", "acme-backups", "acme-public-site",
           "acme-terraform-state", "acme-ml-datasets"]
PREFIXES = ["ci-", "lambda-", "eks-", "Organization", "admin", "svc-", "data-", "ops-"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def _rule_body(t, rnd):
    """The rule() source of template t (0..11)."""
    pick = rnd.choice
    if t == 0:
        names = sorted(set(rnd.sample(NAMES, 3)))
        return "NAMES = %r\n\ndef rule(event):\n    return event.get('eventName') in NAMES\n" % (
            set(names),)
    if t == 1:
        return ("def rule(event):\n    return event.get('eventSource') == %r and "
                "event.get('eventName') == %r\n" % (pick(SOURCES), pick(NAMES)))
    if t == 2:
        return ("from panther_base_helpers import deep_get\n\nIGNORED = %r\n\n"
                "def rule(event):\n    return deep_get(event, 'userIdentity', 'type') == 'Root' and "
                "event.get('eventName') not in IGNORED\n" % (set(rnd.sample(NAMES, 4)),))
    if t == 3:
        return ("def rule(event):\n    return event.get('errorCode') == 'AccessDenied' and "
                "event.get('eventSource') == %r\n" % pick(SOURCES))
    if t == 4:
        return ("from panther_base_helpers import deep_get\n\n"
                "def rule(event):\n    issuer = deep_get(event, 'userIdentity', 'sessionContext', "
                "'sessionIssuer', 'userName', default='')\n"
                "    return issuer.startswith(%r) and event.get('eventName') == %r\n"
                % (pick(PREFIXES), pick(NAMES)))
    if t == 5:
        return ("from panther_base_helpers import deep_get\n\n"
                "def rule(event):\n    if event.get('eventName') != 'ConsoleLogin':\n"
                "        return False\n"
                "    return deep_get(event, 'additionalEventData', 'MFAUsed') == %r and "
                "deep_get(event, 'responseElements', 'ConsoleLogin') == %r\n"
                % (pick(["No", "Yes"]), pick(["Success", "Failure"])))
    if t == 6:
        return ("ALLOWED = %r\n\ndef rule(event):\n    return event.get('eventName') in %r and "
                "event.get('sourceIPAddress') not in ALLOWED\n"
                % ({"203.0.113.5", "198.51.100.7", "192.0.2.13"}, set(rnd.sample(NAMES, 2))))
    if t == 7:
        return ("from panther_base_helpers import deep_get\n\n"
                "def rule(event):\n    if event.get('eventSource') != 's3.amazonaws.com':\n"
                "        return False\n"
                "    return deep_get(event, 'requestParameters', 'bucketName') in %r and "
                "event.get('eventName') == %r\n"
                % (set(rnd.sample(BUCKETS, 2)), pick(["GetObject", "PutObject", "DeleteObject"])))
    if t == 8:
        return ("AGENTS = %r\n\ndef rule(event):\n    ua = event.get('userAgent', '')\n"
                "    return event.get('eventSource') == %r and any(a in ua for a in AGENTS)\n"
                % (tuple(rnd.sample(["curl/", "python-requests", "Boto3/1.2", "aws-cli/1.",
                                      "aws-sdk-go-v2", "Mozilla/5.0 (Kali"], 2)), pick(SOURCES)))
    if t == 9:
        return ("from panther_base_helpers import aws_cloudtrail_success\n\n"
                "def rule(event):\n    return event.get('eventSource') == 'iam.amazonaws.com' and "
                "event.get('eventName', '').startswith(%r) and not aws_cloudtrail_success(event)\n"
                % pick(["Create", "Delete", "Put", "Attach", "Get", "List", "Update"]))
    if t == 10:
        return ("def rule(event):\n    return event.deep_get('userIdentity', 'arn', default='')"
                ".endswith(%r) and event.get('readOnly') is False\n"
                % pick(["/alice", "/bob", "/ci-deployer", "/gha-run", ":root", "/carol"]))
    return ("REGIONS = %r\n\ndef rule(event):\n    return event.get('awsRegion') not in REGIONS and "
            "event.get('eventName') in %r\n" % (set(rnd.sample(REGIONS, 2)), set(rnd.sample(NAMES, 4))))


def _aux_body(i):
    """Auxiliary functions of rule i in the full pack."""
    s = ("\n\ndef title(event):\n    return f\"{event.get('eventName')} by "
         "{event.deep_get('userIdentity', 'arn', default='<unknown>')} in "
         "{event.get('recipientAccountId')}\"\n")
    if i % 2 == 0:
        s += ("\n\ndef dedup(event):\n    return event.deep_get('userIdentity', 'principalId', "
              "default='<unknown>')\n")
    if i % 3 == 0:
        s += ("\n\ndef alert_context(event):\n    from panther_base_helpers import aws_rule_context\n"
              "    return aws_rule_context(event)\n")
    if i % 4 == 1:
        s += ("\n\ndef severity(event):\n    if event.deep_get('userIdentity', 'type') == 'Root':\n"
              "        return 'CRITICAL'\n    return 'DEFAULT'\n")
    return s


def _write_pack(root, nrules, full, seed):
    rnd = random.Random(seed)
    os.makedirs(os.path.join(root, "rules"), exist_ok=True)
    os.makedirs(os.path.join(root, "global_helpers"), exist_ok=True)
    with open(os.path.join(root, "global_helpers", "panther_base_helpers.py"), "w") as f:
        f.write(HELPERS)
    with open(os.path.join(root, "global_helpers", "panther_base_helpers.yml"), "w") as f:
        f.write("AnalysisType: global\nGlobalID: panther_base_helpers\n"
                "Filename: panther_base_helpers.py\n")
    for i in range(nrules):
        t = i % 12
        mod = "bench_rule_%03d" % i
        body = _rule_body(t, rnd)
        if full:
            body += _aux_body(i)
        with open(os.path.join(root, "rules", mod + ".py"), "w") as f:
            f.write(body)
        with open(os.path.join(root, "rules", mod + ".yml"), "w") as f:
            f.write("AnalysisType: rule\nRuleID: Bench.Rule.%03d\nFilename: %s.py\n"
                    "DisplayName: Bench rule %d\nEnabled: true\nLogTypes:\n  - AWS.CloudTrail\n"
                    "Severity: %s\nDedupPeriodMinutes: 60\nTags: [bench]\n"
                    % (i, mod, i, ["Info", "Low", "Medium", "High"][i % 4]))


def generate(outdir, n, nrules):
    sys.path.insert(0, os.path.join(HERE, "..", "tools", "stack"))
    import gen_cloudtrail
    os.makedirs(outdir, exist_ok=True)
    evs = gen_cloudtrail.generate(n, {"root_login": max(1, n // 500), "create_access_key": max(1, n // 500),
                                      "stop_logging": max(1, n // 2000), "no_mfa": max(1, n // 500)},
                                  seed=11)
    with open(os.path.join(outdir, "events.jsonl"), "w") as f:
        for i, ev in enumerate(evs):
            t = ev["eventTime"].replace("T", " ").replace("Z", ".000000000")
            ev["p_log_type"] = "AWS.CloudTrail"
            ev["p_row_id"] = "%032x" % (i * 2654435761 % (1 << 127))
            ev["p_event_time"] = t
            ev["p_parse_time"] = t
            ev["p_source_label"] = "bench-trail"
            ev["p_any_aws_account_ids"] = [ev.get("recipientAccountId", "123456789012")]
            ev["p_any_ip_addresses"] = [ev.get("sourceIPAddress", "")]
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
    _write_pack(os.path.join(outdir, "pack-rule"), nrules, False, 5)
    _write_pack(os.path.join(outdir, "pack-full"), nrules, True, 5)


# ---- the baseline loop ------------------------------------------------------------------

def _load_pack(root):
    sys.path.insert(0, os.path.join(root, "global_helpers"))
    rules = []
    rdir = os.path.join(root, "rules")
    for name in sorted(os.listdir(rdir)):
        if not name.endswith(".py"):
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(rdir, name))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        rules.append((name[:-3], mod, {f: getattr(mod, f, None)
                                       for f in ("title", "dedup", "alert_context", "severity")}))
    return rules


def _truncate(s):
    return s if len(s) <= 1000 else s[:985] + "... (truncated)"


def run(pack, events, aux, repeat):
    rules = _load_pack(pack)
    with open(events) as f:
        lines = f.readlines()
    matches = errors = n = 0
    dedups = {}
    best_wall = best_cpu = None

    def cpu_now():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(repeat):
        pt, pc = time.perf_counter(), cpu_now()
        for line in lines:
            event = PantherEvent(json.loads(line))
            n += 1
            for rid, mod, fns in rules:
                try:
                    matched = mod.rule(event)
                except Exception:
                    errors += 1
                    continue
                if not isinstance(matched, bool):
                    errors += 1
                    continue
                if not matched:
                    continue
                matches += 1
                if not aux:
                    continue
                title = rid
                if fns["title"]:
                    try:
                        title = _truncate(str(fns["title"](event)))
                    except Exception:
                        pass
                dedup = title
                if fns["dedup"]:
                    try:
                        dedup = _truncate(str(fns["dedup"](event))) or title
                    except Exception:
                        pass
                if fns["alert_context"]:
                    try:
                        ctx = json.dumps(fns["alert_context"](event), default=lambda o: dict(o)
                                         if isinstance(o, collections.abc.Mapping) else str(o))
                        if len(ctx) > 200 * 1024:
                            ctx = json.dumps({"_error": "too big"})
                    except Exception:
                        ctx = "{}"
                if fns["severity"]:
                    try:
                        fns["severity"](event)
                    except Exception:
                        pass
                dedups[(rid, dedup)] = dedups.get((rid, dedup), 0) + 1
        dt, dc = time.perf_counter() - pt, cpu_now() - pc
        best_wall = dt if best_wall is None else min(best_wall, dt)
        best_cpu = dc if best_cpu is None else min(best_cpu, dc)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"events": n, "matches": matches, "errors": errors, "groups": len(dedups),
                      "rules": len(rules), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                      "events_per_s": round(n / wall, 1), "events_per_cpu_s": round(n / cpu, 1),
                      "best_events_per_s": round(len(lines) / best_wall, 1),
                      "best_events_per_cpu_s": round(len(lines) / best_cpu, 1)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir")
    g.add_argument("-n", type=int, default=20000)
    g.add_argument("--rules", type=int, default=144)
    r = sub.add_parser("run")
    r.add_argument("pack")
    r.add_argument("events")
    r.add_argument("--aux", action="store_true")
    r.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.dir, a.n, a.rules)
    else:
        run(a.pack, a.events, a.aux, a.repeat)


if __name__ == "__main__":
    main()
