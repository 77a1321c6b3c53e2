"""rules-engine on a real broker and Postgres, fed by hand-made lake files and
ProcessedFile records (protobuf encoded here):
 - the bundled detections load from a directory; a broken file next to them is reported
   with file, line and reason and counted, and the others run;
 - a zstd lake file of 300 normalized CloudTrail events (with a corrupt line) gives one
   RuleMatchGroup per (rule, dedup) on rule-matches, keyed "<rule_id>:<dedup>", with the
   right counts, titles, severities, thresholds, times and samples; the corrupt line is
   counted and skipped;
 - the matched events are written to the lake under rules/ and announced on
   processed-files (kind rules), which the engine itself ignores;
 - the same file again gives the same match ids (deterministic);
 - a ProcessedFile naming a missing lake file goes to processed-files.dlq (not found);
 - a rule stored in the rules table is picked up without a restart, and a disabled table
   row stops it."""
import datetime as dt
import json
import pathlib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
import gen_cloudtrail  # noqa: E402
from ocstack import Stack, bin_path, repo_root, wait_until  # noqa: E402

ACCOUNT = "123456789012"


def log(*a):
    print("[%s test_rules]" % time.strftime("%H:%M:%S"), *a, flush=True)


# ---- protobuf wire format, by hand (proto/ocelot/v1/messages.proto) ----

def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _str(num, s):
    b = s.encode()
    return _varint(num << 3 | 2) + _varint(len(b)) + b if b else b""


def _int(num, v):
    return _varint(num << 3 | 0) + _varint(v) if v else b""


def processed_file(lake_key, log_type, rows, first_us, last_us, kind=1):
    """ProcessedFile: kind=1, log_type=2, lake_key=3, row_count=4, bytes=5,
    first_event_time_us=6, last_event_time_us=7, source_id=8, source_label=9."""
    return (_int(1, kind) + _str(2, log_type) + _str(3, lake_key) + _int(4, rows) + _int(5, 1) +
            _int(6, first_us) + _int(7, last_us) + _str(8, "ct") + _str(9, "CloudTrail"))


def produce(st, topic, key, value):
    p = subprocess.run([str(bin_path("ocelot")), "topic", "produce", topic, "--key", key],
                       env=st.env, cwd=str(st.tmp), input=value, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")


def dump(st, topic):
    p = st.ocelot("topic", "dump", topic, "--timeout-ms", "2000")
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


# ---- lake files ----

def panther_time(t):
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") + "000"


def normalize(events):
    out = []
    for i, ev in enumerate(events):
        ev = dict(ev)
        t = dt.datetime.strptime(ev["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        ev["p_log_type"] = "AWS.CloudTrail"
        ev["p_row_id"] = "row%06d" % i
        ev["p_event_time"] = panther_time(t)
        ev["p_parse_time"] = panther_time(dt.datetime(2026, 11, 1, 12, 0, 0))
        ev["p_source_id"] = "ct"
        ev["p_source_label"] = "CloudTrail"
        out.append(ev)
    return out


def write_lake(st, key, lines):
    path = pathlib.Path(st.env["OCELOT_LAKE_ROOT"]) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    if shutil.which("zstd"):
        z = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    else:  # the engine's reader detects the compression by magic bytes
        import gzip
        z = gzip.compress(data)
    path.write_bytes(z)
    return path


def to_us(panther):
    t = dt.datetime.strptime(panther[:26], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()) * 1000000 + t.microsecond


BROKEN = """\
AnalysisType: rule
RuleID: Broken.Rule
LogTypes: [AWS.CloudTrail]
Severity: High
Detection:
  - Key: eventName
    Condition: Equalz
    Value: ConsoleLogin
"""

PYTHON = """\
AnalysisType: rule
Filename: py_rule.py
RuleID: Py.Rule
LogTypes: [AWS.CloudTrail]
Severity: High
"""

TABLE_RULE = """\
AnalysisType: rule
RuleID: Table.KMS.Decrypt
LogTypes: [AWS.CloudTrail]
Severity: Info
AlertTitle: "KMS decrypt by {userIdentity.arn}"
GroupBy:
  - KeyPath: eventSource
Detection:
  - Key: eventName
    Condition: Equals
    Value: Decrypt
  - Key: eventSource
    Condition: Equals
    Value: kms.amazonaws.com
"""


def groups_of(records, lake_key):
    return [r for r in records if r["value"].get("lake_key") == lake_key]


def main():
    with Stack("rules-engine") as st:
        rules_dir = st.tmp / "detections"
        shutil.copytree(repo_root() / "examples" / "detections", rules_dir)
        (rules_dir / "zz_broken.yml").write_text(BROKEN)
        (rules_dir / "py_rule.yml").write_text(PYTHON)
        n_examples = len(list((repo_root() / "examples" / "detections").glob("*.yml")))

        eng = st.service("rules-engine", env={"OCELOT_RULES_DIR": str(rules_dir),
                                              "OCELOT_RULES_REFRESH_MS": "500",
                                              "OCELOT_RULES_WRITE_MATCHES": "true"})
        eng.wait_ready(60)
        wait_until(lambda: eng.metric("ocelot_rules_loaded", origin="directory") == n_examples,
                   timeout=30, what="the bundled detections loaded")
        assert eng.metric("ocelot_rules_load_errors_total") >= 1
        assert eng.metric("ocelot_rules_skipped", reason="python") == 1
        text = eng.log_text()
        errs = [json.loads(l) for l in text.splitlines() if l.startswith("{") and "could not load detection" in l]
        assert errs, text[-3000:]
        assert errs[0]["file"].endswith("zz_broken.yml"), errs[0]
        assert errs[0]["line"] == "7", errs[0]
        assert "unknown condition" in errs[0]["reason"], errs[0]
        assert "a Python rule: it runs from a pack" in text
        log("rules loaded; broken file reported:", errs[0]["reason"])

        # 300 events with known scenarios, normalized as the processor writes them.
        events = normalize(gen_cloudtrail.generate(
            300, {"root_login": 7, "create_access_key": 2, "stop_logging": 3, "no_mfa": 4}, seed=11,
            spread_minutes=50))
        lines = [json.dumps(e, separators=(",", ":")) for e in events]
        lines.insert(100, '{"eventName": "ConsoleLogin", truncated')
        key1 = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/it-file-1.json.zst"
        write_lake(st, key1, lines)
        first_us = min(to_us(e["p_event_time"]) for e in events)
        last_us = max(to_us(e["p_event_time"]) for e in events)
        produce(st, "processed-files", key1, processed_file(key1, "AWS.CloudTrail", 300, first_us, last_us))

        def want(pred):
            return [e for e in events if pred(e)]
        root = want(lambda e: e["eventName"] == "ConsoleLogin" and e["userIdentity"]["type"] == "Root")
        stops = want(lambda e: e["eventName"] in ("StopLogging", "DeleteTrail", "UpdateTrail")
                     and e["eventSource"] == "cloudtrail.amazonaws.com" and "errorCode" not in e)
        keys = want(lambda e: e["eventName"] == "CreateAccessKey" and not e.get("errorCode"))
        nomfa = want(lambda e: e["eventName"] == "ConsoleLogin"
                     and (e.get("additionalEventData") or {}).get("MFAUsed") == "No"
                     and e["userIdentity"]["type"] in ("IAMUser", "Root"))
        assert len(root) == 7 and len(stops) == 3 and len(keys) == 2 and len(nomfa) == 4, \
            (len(root), len(stops), len(keys), len(nomfa))

        def total(recs, rule):
            return sum(int(r["value"]["match_count"]) for r in recs if r["value"]["rule_id"] == rule)

        wait_until(lambda: total(groups_of(dump(st, "rule-matches"), key1), "AWS.Console.RootLogin") == 7,
                   timeout=60, what="root-login matches on rule-matches")
        time.sleep(1)
        recs = groups_of(dump(st, "rule-matches"), key1)
        log("groups:", [(r["key"], r["value"]["match_count"]) for r in recs])

        # Root logins: titles name the account and the source address; one group per title.
        by_title = {}
        for e in root:
            t = "Root console login in account %s from %s" % (ACCOUNT, e["sourceIPAddress"])
            by_title.setdefault(t, []).append(e)
        got = {r["value"]["dedup"]: r for r in recs if r["value"]["rule_id"] == "AWS.Console.RootLogin"}
        assert set(got) == set(by_title), (sorted(got), sorted(by_title))
        for title, evs in by_title.items():
            v = got[title]["value"]
            assert got[title]["key"] == "AWS.Console.RootLogin:" + title, got[title]["key"]
            assert v["title"] == title
            assert int(v["match_count"]) == len(evs)
            assert v["severity"] == "HIGH"
            assert int(v["threshold"]) == 1 and int(v["dedup_period_minutes"]) == 60
            assert v["log_type"] == "AWS.CloudTrail"
            assert int(v["first_event_time_us"]) == min(to_us(e["p_event_time"]) for e in evs)
            assert int(v["last_event_time_us"]) == max(to_us(e["p_event_time"]) for e in evs)
            assert len(v["id"]) == 32 and all(c in "0123456789abcdef" for c in v["id"])
            assert v["rule_version"] and v["description"] and v["runbook"] and v["reference"]
            samples = [json.loads(s) for s in v["sample_events"]]
            assert 1 <= len(samples) <= 5 and len(samples) == min(5, len(evs))
            assert all(s["userIdentity"]["type"] == "Root" for s in samples)

        assert total(recs, "AWS.CloudTrail.StoppedOrDeleted") == 3
        ak = [r for r in recs if r["value"]["rule_id"] == "AWS.IAM.AccessKeyCreated"]
        assert len(ak) == 1 and int(ak[0]["value"]["match_count"]) == 2, ak
        assert ak[0]["value"]["dedup"] == "svc-backup:arn:aws:iam::%s:user/alice" % ACCOUNT, ak[0]["value"]["dedup"]
        assert ak[0]["value"]["title"] == \
            "IAM access key created for svc-backup by arn:aws:iam::%s:user/alice" % ACCOUNT
        mfa = [r for r in recs if r["value"]["rule_id"] == "AWS.Console.LoginWithoutMFA"]
        assert sum(int(r["value"]["match_count"]) for r in mfa) == 4
        assert all(int(r["value"]["threshold"]) == 5 and r["value"]["severity"] == "MEDIUM" for r in mfa)
        ids1 = sorted(r["value"]["id"] for r in recs)
        assert len(set(ids1)) == len(ids1)

        # Metrics.
        assert eng.metric("ocelot_rules_events_total", log_type="AWS.CloudTrail") == 300
        assert eng.metric("ocelot_rules_bad_lines_total", reason="json") == 1
        assert eng.metric("ocelot_rules_matches_total", rule_id="AWS.Console.RootLogin") == 7

        # The rules/ lake file and its ProcessedFile (kind rules), which the engine ignores.
        matched_total = sum(int(r["value"]["match_count"]) for r in recs)
        def rules_pf():
            return [r for r in dump(st, "processed-files")
                    if r["value"].get("kind") == "FILE_KIND_RULES"]
        pfs = wait_until(rules_pf, timeout=30, what="a ProcessedFile of kind rules")
        assert len(pfs) == 1, pfs
        out_key = pfs[0]["value"]["lake_key"]
        assert out_key == "rules/aws_cloudtrail/year=2026/month=11/day=01/hour=10/it-file-1.json.zst", out_key
        assert int(pfs[0]["value"]["row_count"]) == matched_total
        out_path = pathlib.Path(st.env["OCELOT_LAKE_ROOT"]) / out_key
        out_lines = subprocess.run(["zstd", "-dc", str(out_path)], capture_output=True, check=True).stdout
        rows = [json.loads(l) for l in out_lines.decode().splitlines()]
        assert len(rows) == matched_total
        assert sum(1 for r in rows if r["p_rule_id"] == "AWS.Console.RootLogin") == 7
        assert all(r["p_rule_severity"] and r["p_alert_title"] and r["p_dedup"] for r in rows)
        wait_until(lambda: eng.metric("ocelot_rules_files_total", kind="ignored") >= 1, timeout=30,
                   what="the rules ProcessedFile ignored by the engine")

        # The same claim check again: the same match ids.
        produce(st, "processed-files", key1, processed_file(key1, "AWS.CloudTrail", 300, first_us, last_us))
        wait_until(lambda: len(groups_of(dump(st, "rule-matches"), key1)) == 2 * len(recs), timeout=60,
                   what="the replayed file's groups")
        ids2 = sorted(r["value"]["id"] for r in groups_of(dump(st, "rule-matches"), key1))
        assert ids2 == sorted(ids1 + ids1), "replay changed match ids"

        # A missing lake file: dead-lettered as not found, and the stream goes on.
        missing = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=11/not-there.json.zst"
        produce(st, "processed-files", missing, processed_file(missing, "AWS.CloudTrail", 1, first_us, last_us))
        dlq = wait_until(lambda: [r for r in dump(st, "processed-files.dlq") if r["key"] == missing],
                         timeout=90, what="the missing file's record in processed-files.dlq")
        hdrs = dlq[0]["headers"]
        assert hdrs.get("oc-error-class") == "OC_ERR_NOT_FOUND", hdrs
        assert "does not exist" in hdrs.get("oc-error", ""), hdrs
        assert hdrs.get("oc-service") == "rules-engine", hdrs

        # A rule stored in the rules table is picked up without a restart.
        decrypts = want(lambda e: e["eventName"] == "Decrypt" and e["eventSource"] == "kms.amazonaws.com")
        assert decrypts, "the generator made no KMS Decrypt events"
        rule_file = st.tmp / "table_rule.yml"
        rule_file.write_text(TABLE_RULE)
        st.ocelot("rules", "put", str(rule_file))
        wait_until(lambda: eng.metric("ocelot_rules_loaded", origin="table") == 1, timeout=30,
                   what="the table rule loaded")
        key2 = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/it-file-2.json.zst"
        write_lake(st, key2, lines)
        produce(st, "processed-files", key2, processed_file(key2, "AWS.CloudTrail", 300, first_us, last_us))
        wait_until(lambda: total(groups_of(dump(st, "rule-matches"), key2), "Table.KMS.Decrypt") == len(decrypts),
                   timeout=60, what="matches of the table rule")
        t = [r for r in groups_of(dump(st, "rule-matches"), key2) if r["value"]["rule_id"] == "Table.KMS.Decrypt"]
        assert len(t) == 1 and t[0]["value"]["dedup"] == "kms.amazonaws.com", t
        assert t[0]["value"]["rule_version"] == "1", t[0]["value"]["rule_version"]
        assert t[0]["value"]["severity"] == "INFO"

        # Disabled in the table: no longer runs.
        st.sql("UPDATE rules SET enabled = false, updated_at = now() WHERE id = 'Table.KMS.Decrypt'")
        wait_until(lambda: eng.metric("ocelot_rules_loaded", origin="table") == 0, timeout=30,
                   what="the table rule unloaded")
        key3 = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/it-file-3.json.zst"
        write_lake(st, key3, lines)
        produce(st, "processed-files", key3, processed_file(key3, "AWS.CloudTrail", 300, first_us, last_us))
        wait_until(lambda: total(groups_of(dump(st, "rule-matches"), key3), "AWS.Console.RootLogin") == 7,
                   timeout=60, what="the third file's matches")
        assert total(groups_of(dump(st, "rule-matches"), key3), "Table.KMS.Decrypt") == 0
        assert eng.running(), "rules-engine exited"
        assert eng.stop() == 0
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
