"""A crash of the Python host in the live rules-engine is isolated: a rule that aborts the
interpreter on one event of a 60-event lake file restarts the worker; the other rules are
evaluated on every other event (their groups arrive as usual), the one poison event is
written to a quarantine lake file and announced on processed-files.dlq with the
dead-letter headers, the engine stays up and ready, and `ocelot requeue` of that record
runs only that event again."""
import json
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ocstack import Stack, wait_until  # noqa: E402
from test_rules_engine import dump, processed_file, produce, write_lake  # noqa: E402

CRASH_YML = """\
AnalysisType: rule
RuleID: Live.Crash
Filename: crash.py
LogTypes: [AWS.CloudTrail]
Severity: High
"""
CRASH_PY = """\
import os

def rule(event):
    if event.get("eventName") == "Boom":
        os.abort()
    return False
"""
COUNT_YML = """\
AnalysisType: rule
RuleID: Live.Every
Filename: every.py
LogTypes: [AWS.CloudTrail]
Severity: Low
"""
COUNT_PY = """\
def rule(event):
    return event.get("eventSource") == "s3.amazonaws.com"

def dedup(event):
    return "all"
"""

DLQ_HEADERS = ["oc-error", "oc-error-class", "oc-service", "oc-source-topic",
               "oc-source-partition", "oc-source-offset", "oc-attempts", "oc-failed-at"]


def log(*a):
    print("[%s test_rules_poison]" % time.strftime("%H:%M:%S"), *a, flush=True)


def event(i, name):
    return json.dumps({"eventVersion": "1.08", "eventTime": "2026-11-01 10:%02d:00.000000000" % (i % 60),
                       "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                       "eventID": "e-%d" % i, "eventType": "AwsApiCall", "p_log_type": "AWS.CloudTrail",
                       "p_event_time": "2026-11-01 10:%02d:00.000000000" % (i % 60)},
                      separators=(",", ":"))


def main():
    with Stack("rules-poison") as st:
        pack = st.tmp / "pack"
        pack.mkdir()
        for name, text in [("crash.yml", CRASH_YML), ("crash.py", CRASH_PY), ("every.yml", COUNT_YML),
                           ("every.py", COUNT_PY)]:
            (pack / name).write_text(text)
        yaml_dir = st.tmp / "detections"
        yaml_dir.mkdir()
        eng = st.service("rules-engine", env={"OCELOT_RULES_DIR": str(yaml_dir),
                                              "OCELOT_RULES_PACK_DIR": str(pack),
                                              "OCELOT_RULES_REFRESH_MS": "500"})
        eng.wait_ready(60)
        wait_until(lambda: eng.metric("ocelot_rules_python_loaded") == 2, timeout=30,
                   what="two python rules loaded")

        lines = [event(i, "Boom" if i == 17 else "GetObject") for i in range(60)]
        key = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/poison-1.json.zst"
        write_lake(st, key, lines)
        now_us = int(time.time() * 1e6)
        produce(st, "processed-files", key, processed_file(key, "AWS.CloudTrail", 60, now_us, now_us))

        wait_until(lambda: dump(st, "processed-files.dlq"), timeout=90, what="the poison dead letter")
        time.sleep(1)
        dlq = dump(st, "processed-files.dlq")
        assert len(dlq) == 1, dlq
        rec = dlq[0]
        for h in DLQ_HEADERS:
            assert h in rec["headers"], (h, rec["headers"])
        assert "crashed" in rec["headers"]["oc-error"], rec["headers"]
        assert rec["headers"]["oc-source-topic"] == "processed-files", rec["headers"]
        qkey = rec["value"]["lake_key"]
        assert qkey.startswith("quarantine/aws_cloudtrail/") and int(rec["value"]["row_count"]) == 1, rec
        qpath = pathlib.Path(st.env["OCELOT_LAKE_ROOT"]) / qkey
        quarantined = subprocess.run(["zstd", "-dc", str(qpath)], capture_output=True, check=True).stdout.decode()
        assert quarantined.splitlines() == [lines[17]], quarantined

        # Every other event was evaluated exactly once by the rule that did not crash.
        groups = [g["value"] for g in dump(st, "rule-matches") if g["value"].get("lake_key") == key]
        every = [g for g in groups if g["rule_id"] == "Live.Every" and not g.get("is_error")]
        assert len(every) == 1 and int(every[0]["match_count"]) == 59, groups
        assert eng.metric("ocelot_rules_python_poison_events_total") == 1
        assert eng.running() and eng.ready(), "the engine went down with the Python host"

        # The requeued record runs only the poison event again (it crashes again, and is
        # dead-lettered again: the rule is still broken).
        r = st.ocelot("requeue", "--from", "processed-files.dlq")
        log(r.stdout.strip().splitlines()[-1:])
        wait_until(lambda: eng.metric("ocelot_rules_python_poison_events_total") == 2, timeout=90,
                   what="the requeued poison event evaluated again")
        assert eng.running() and eng.ready()
        log("ok: 1 poison event dead-lettered, 59 evaluated, the engine stayed up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
