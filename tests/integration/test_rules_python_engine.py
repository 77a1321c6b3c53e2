"""Python rules in the live rules-engine (OCELOT_RULES_PACK_DIR) on a real broker and
Postgres, and the same results as `ocelot test`:
 - the test Logs of tests/packs/basic (taken from `ocelot test --json`, so both read the
   YAML the same way) go into one lake file; every test that matched in `ocelot test`
   (mocked tests excepted) gives a RuleMatchGroup of that rule with the same dedup,
   title, severity, alert context, description, reference, runbook and destinations;
 - tests expected not to match do not appear among the samples of their rule's groups;
 - a rule that raises gives a rule-error group (is_error, dedup = exception class, title =
   its repr, message with file and line) apart from the rule's alerts, and the other
   rules still match the same events;
 - a rule that loops forever is interrupted by OCELOT_RULES_PY_BUDGET_MS, reported as a
   rule error, and the stream goes on; the timeout and error metrics count them;
 - destinations [] sets skip_delivery; Threshold and DedupPeriodMinutes travel along."""
import json
import pathlib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ocstack import Stack, bin_path, repo_root, wait_until  # noqa: E402
from test_rules_engine import dump, processed_file, produce, write_lake  # noqa: E402

RAISES_YML = """\
AnalysisType: rule
RuleID: Live.Raises
Filename: live_raises.py
LogTypes: [AWS.CloudTrail]
Severity: Medium
"""
RAISES_PY = """\
def rule(event):
    if event.get("kind") == "long":
        return event["no_such_field"] == 1
    return False
"""
LOOPS_YML = """\
AnalysisType: rule
RuleID: Live.Loops
Filename: live_loops.py
LogTypes: [AWS.CloudTrail]
Severity: Low
"""
LOOPS_PY = """\
def rule(event):
    if event.get("kind") == "critical":
        while True:
            pass
    return False
"""


def log(*a):
    print("[%s test_rules_python]" % time.strftime("%H:%M:%S"), *a, flush=True)


def main():
    with Stack("rules-python") as st:
        pack = st.tmp / "pack"
        shutil.copytree(repo_root() / "tests" / "packs" / "basic", pack)
        p = subprocess.run([str(bin_path("ocelot")), "test", str(pack), "--json"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        assert rows, p.stdout
        (pack / "rules" / "live_raises.yml").write_text(RAISES_YML)
        (pack / "rules" / "live_raises.py").write_text(RAISES_PY)
        (pack / "rules" / "live_loops.yml").write_text(LOOPS_YML)
        (pack / "rules" / "live_loops.py").write_text(LOOPS_PY)
        yaml_dir = st.tmp / "detections"
        yaml_dir.mkdir()

        eng = st.service("rules-engine", env={"OCELOT_RULES_DIR": str(yaml_dir),
                                              "OCELOT_RULES_PACK_DIR": str(pack),
                                              "OCELOT_RULES_PY_BUDGET_MS": "200",
                                              "OCELOT_RULES_REFRESH_MS": "500"})
        eng.wait_ready(60)
        n_rules = len({r["rule"] for r in rows if r["rule"] != "Test.Scheduled"}) + 2
        wait_until(lambda: eng.metric("ocelot_rules_python_loaded") == n_rules, timeout=30,
                   what="%d python rules loaded" % n_rules)

        # One lake file with every test's Log; the file's log type is AWS.CloudTrail.
        lines, seen = [], set()
        for r in rows:
            s = json.dumps(r["log"], separators=(",", ":"))  # key order matters to Test.EventApi
            if s not in seen:
                seen.add(s)
                lines.append(s)
        key = "logs/aws_cloudtrail/year=2026/month=11/day=01/hour=10/py-file-1.json.zst"
        write_lake(st, key, lines)
        now_us = int(time.time() * 1e6)
        produce(st, "processed-files", key,
                processed_file(key, "AWS.CloudTrail", len(lines), now_us, now_us))

        def groups():
            return [g for g in dump(st, "rule-matches") if g["value"].get("lake_key") == key]

        wait_until(lambda: any(g["value"]["rule_id"] == "Live.Loops" for g in groups()),
                   timeout=60, what="the looping rule's error group")
        time.sleep(1)
        recs = groups()
        log("groups:", [(g["value"]["rule_id"], g["value"]["dedup"][:40],
                         g["value"].get("is_error", False)) for g in recs])
        by_rule = {}
        for g in recs:
            by_rule.setdefault(g["value"]["rule_id"], []).append(g["value"])

        checked = 0
        for r in rows:
            if r["rule"] == "Test.Scheduled" or r["rule"] == "Test.Mocks":
                continue  # scheduled rules do not run on streams; mocks exist only in tests
            mine = [v for v in by_rule.get(r["rule"], []) if not v.get("is_error")]
            if not r.get("matched"):
                for v in mine:
                    samples = [json.loads(s) for s in v.get("sample_events", [])]
                    assert r["log"] not in samples, (r["rule"], r["test"])
                continue
            same = [v for v in mine if v["dedup"] == r["dedup"]]
            assert len(same) == 1, (r["rule"], r["test"], r["dedup"], [v["dedup"] for v in mine])
            v = same[0]
            assert v["title"] == r["title"], (r["rule"], v["title"], r["title"])
            assert v["severity"] == r["severity"], (r["rule"], v["severity"], r["severity"])
            assert v.get("description", "") == r["description"], r["rule"]
            assert v.get("reference", "") == r["reference"], r["rule"]
            assert v.get("runbook", "") == r["runbook"], r["rule"]
            ctx = v.get("alert_context_json", "")
            assert (json.loads(ctx) if ctx else None) == r["alert_context"], (r["rule"], ctx)
            dests = r["destinations"] or []
            assert v.get("destinations", []) == dests, (r["rule"], v.get("destinations"), dests)
            assert bool(v.get("skip_delivery", False)) == (r["destinations"] == []), r["rule"]
            checked += 1
        assert checked >= 10, checked
        log("groups agree with `ocelot test` for", checked, "matched tests")

        outs = [v for v in by_rule["Test.Outputs"] if v["dedup"] == "critical by bob"][0]
        assert int(outs["threshold"]) == 2 and int(outs["dedup_period_minutes"]) == 30, outs

        err = by_rule["Live.Raises"]
        assert len(err) == 1 and err[0]["is_error"], err
        assert err[0]["dedup"] == "KeyError" and err[0]["title"] == "KeyError('no_such_field')", err
        assert "live_raises.py, line 3, in rule" in err[0]["description"], err[0]["description"]
        assert int(err[0]["match_count"]) == 1
        # the other rules saw the same event: Test.Outputs' "long" test still matched
        assert any(v["title"].endswith("... (truncated)") for v in by_rule["Test.Outputs"])

        loops = by_rule["Live.Loops"]
        assert len(loops) == 1 and loops[0]["is_error"], loops
        assert loops[0]["dedup"] == "OcelotTimeoutError", loops[0]
        assert "200 ms" in loops[0]["description"], loops[0]["description"]
        wait_until(lambda: eng.metric("ocelot_rules_python_timeouts_total") == 1, timeout=10,
                   what="the timeout counted")
        # pack rules written for their own test Logs raise on the others' events, too
        n_err = sum(int(g["value"]["match_count"]) for g in recs if g["value"].get("is_error"))
        assert n_err >= 2 and eng.metric("ocelot_rules_python_errors_total") == n_err, n_err
        assert eng.metric("ocelot_rules_files_total", kind="logs") == 1
        log("rule errors and the timeout reported; stream went on")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
