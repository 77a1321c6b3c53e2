"""Stateful Python rules, stored packs and reloads, on a real broker, Postgres and Redis:
 - `ocelot test` runs a pack whose rule counts with panther_detection_helpers.caching:
   with the in-process store (no OCELOT_REDIS_URL) the fifth failure alerts and a Mock
   replaces increment_counter; with OCELOT_REDIS_URL the counter lands in Redis;
 - `ocelot rules upload` refuses a pack whose file does not load (file, line, reason),
   stores a good one (version 1), and an unchanged re-upload creates no version;
 - the rules-engine, with no OCELOT_RULES_PACK_DIR, runs the stored pack: failed logins
   counted per user in Redis (INCRBY + EXPIREAT) across events and files, alert from the
   fifth;
 - uploading a changed rule (alert from the second, new title) reloads the engine on the
   Redis notice, long before its periodic check (OCELOT_RULES_RELOAD_MS = 10 min),
   without a restart (same process);
 - with Redis down the file is not failed nor dead-lettered: it is retried and matches
   once Redis is back."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ocstack import Stack, bin_path, wait_until  # noqa: E402
from test_rules_engine import dump, processed_file, produce, write_lake  # noqa: E402

YML = """\
AnalysisType: rule
RuleID: Test.BruteForce
Filename: brute.py
LogTypes: [Okta.SystemLog]
Severity: High
Tests:
  - Name: first failure does not alert
    ExpectedResult: false
    Log: {"outcome": "FAILURE", "user": "alice"}
  - Name: second
    ExpectedResult: false
    Log: {"outcome": "FAILURE", "user": "alice"}
  - Name: third
    ExpectedResult: false
    Log: {"outcome": "FAILURE", "user": "alice"}
  - Name: fourth
    ExpectedResult: false
    Log: {"outcome": "FAILURE", "user": "alice"}
  - Name: fifth alerts
    ExpectedResult: true
    Log: {"outcome": "FAILURE", "user": "alice"}
  - Name: mocked counter
    ExpectedResult: true
    Mocks:
      - objectName: increment_counter
        returnValue: 7
    Log: {"outcome": "FAILURE", "user": "bob"}
  - Name: success is ignored
    ExpectedResult: false
    Log: {"outcome": "SUCCESS", "user": "alice"}
"""
PY = """\
from panther_detection_helpers.caching import increment_counter

THRESHOLD = %d

def rule(event):
    if event.get("outcome") != "FAILURE":
        return False
    n = increment_counter("failed-logins-" + event.get("user"), epoch_seconds=600)
    return n >= THRESHOLD

def title(event):
    return "%s" + event.get("user")
"""


def log(*a):
    print("[%s test_rules_caching]" % time.strftime("%H:%M:%S"), *a, flush=True)


def redis_cli(st, *args):
    p = subprocess.run(["redis-cli", "-p", str(st.redis.port)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=10)
    return p.stdout.strip()


def main():
    with Stack("rules-caching") as st:
        pack = st.tmp / "brute"
        (pack / "rules").mkdir(parents=True)
        (pack / "rules" / "brute.yml").write_text(YML)
        (pack / "rules" / "brute.py").write_text(PY % (5, "brute force against "))

        # ocelot test, in-process store
        env = {k: v for k, v in st.env.items() if k != "OCELOT_REDIS_URL"}
        p = subprocess.run([str(bin_path("ocelot")), "test", str(pack)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "7 passed, 0 failed" in p.stdout, p.stdout + p.stderr
        assert redis_cli(st, "EXISTS", "ocelot:kv:c:failed-logins-alice") == "0"
        # ocelot test, Redis
        p = st.ocelot("test", str(pack))
        assert "7 passed, 0 failed" in p.stdout, p.stdout
        assert redis_cli(st, "GET", "ocelot:kv:c:failed-logins-alice") == "5"
        assert 0 < int(redis_cli(st, "TTL", "ocelot:kv:c:failed-logins-alice")) <= 600
        log("ocelot test: caching works in-process and on Redis; mocks replace it")

        # upload: a broken pack is refused with file, line and reason
        bad = st.tmp / "bad"
        shutil.copytree(pack, bad)
        (bad / "rules" / "brute.py").write_text("def rule(event):\n    return (\n")
        p = st.ocelot("rules", "upload", str(bad), check=False)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "brute.py" in p.stderr and "line" in p.stderr and "SyntaxError" in p.stderr, p.stderr
        assert "not uploaded" in p.stderr, p.stderr
        assert st.sql("SELECT count(*) FROM rules") == [("0",)]

        p = st.ocelot("rules", "upload", str(pack))
        assert "1 items, 1 new" in p.stdout, p.stdout
        rows = st.sql("SELECT id, version, kind, pack_id FROM rules")
        assert rows == [("Test.BruteForce", "1", "python", "brute")], rows
        p = st.ocelot("rules", "upload", str(pack))
        assert "0 new, 0 updated, 1 unchanged" in p.stdout, p.stdout
        assert st.sql("SELECT version FROM rules") == [("1",)]
        assert st.sql("SELECT count(*) FROM pack_item_versions") == [("1",)]
        log("upload refuses a broken pack; unchanged re-upload keeps version 1")

        eng = st.service("rules-engine", env={"OCELOT_RULES_DIR": str(st.tmp / "none"),
                                              "OCELOT_RULES_PACK_DIR": "",
                                              "OCELOT_RULES_RELOAD_MS": "600000"})
        eng.wait_ready(60)
        wait_until(lambda: eng.metric("ocelot_rules_python_loaded") == 1, timeout=30,
                   what="the stored rule loaded")
        pid = eng.pid

        now_us = int(time.time() * 1e6)
        seq = [0]

        def send(events):
            seq[0] += 1
            key = "logs/okta_systemlog/year=2026/month=11/day=01/hour=10/c-%d.json.zst" % seq[0]
            write_lake(st, key, [json.dumps(e) for e in events])
            produce(st, "processed-files", key,
                    processed_file(key, "Okta.SystemLog", len(events), now_us, now_us))
            return key

        def groups(key):
            return [g["value"] for g in dump(st, "rule-matches")
                    if g["value"].get("lake_key") == key]

        def files_done():
            return eng.metric("ocelot_rules_files_total", kind="logs") or 0

        fail = lambda u: {"outcome": "FAILURE", "user": u}  # noqa: E731
        k1 = send([fail("dave")] * 3 + [{"outcome": "SUCCESS", "user": "dave"}])
        wait_until(lambda: files_done() == 1, timeout=60, what="file 1")
        assert groups(k1) == []
        assert redis_cli(st, "GET", "ocelot:kv:c:failed-logins-dave") == "3"
        k2 = send([fail("dave")] * 3)
        wait_until(lambda: groups(k2), timeout=60, what="the brute-force group of file 2")
        g = groups(k2)
        assert len(g) == 1 and g[0]["rule_id"] == "Test.BruteForce", g
        assert g[0]["title"] == "brute force against dave" and int(g[0]["match_count"]) == 2, g
        assert redis_cli(st, "GET", "ocelot:kv:c:failed-logins-dave") == "6"
        assert 0 < int(redis_cli(st, "TTL", "ocelot:kv:c:failed-logins-dave")) <= 600
        log("counted across events and files in Redis; alert from the fifth failure")

        # a new version of the rule: reloaded on the notice, no restart
        (pack / "rules" / "brute.py").write_text(PY % (2, "v2 brute force against "))
        p = st.ocelot("rules", "upload", str(pack))
        assert "1 updated" in p.stdout and "notified 1 engine" in p.stdout, p.stdout
        assert st.sql("SELECT version FROM rules") == [("2",)]
        t0 = time.monotonic()
        wait_until(lambda: eng.metric("ocelot_rules_python_reloads_total", result="ok") == 1,
                   timeout=30, what="the reload after the notice")
        log("reloaded %.1f s after the upload" % (time.monotonic() - t0))
        assert eng.pid == pid and eng.running()
        k3 = send([fail("erin"), fail("erin")])
        wait_until(lambda: groups(k3), timeout=60, what="the group of file 3")
        g = groups(k3)
        assert len(g) == 1 and g[0]["title"] == "v2 brute force against erin", g
        assert int(g[0]["match_count"]) == 1, g

        # a reload that fails keeps the running rules (stored directly, bypassing upload)
        st.sql("UPDATE rules SET python = 'def rule(event):\n    return (\n', version = 3,"
               " updated_at = now()")
        redis_cli(st, "PUBLISH", "ocelot:rules-changed", "brute")
        wait_until(lambda: eng.metric("ocelot_rules_python_reloads_total", result="failed") == 1,
                   timeout=30, what="the failed reload")
        k4 = send([fail("frank"), fail("frank")])
        wait_until(lambda: groups(k4), timeout=60, what="the group of file 4 (old rules)")
        assert groups(k4)[0]["title"] == "v2 brute force against frank"
        log("a failed reload kept the running rules")

        # Redis down: the file is retried, not failed
        st.redis.stop(10)
        k5 = send([fail("gina"), fail("gina")])
        try:
            wait_until(lambda: (eng.metric("ocelot_rules_cache_unavailable_total") or 0) >= 1,
                       timeout=60, what="the cache outage noticed")
        except AssertionError:
            log("groups of file 5:", groups(k5))
            raise
        assert groups(k5) == []
        st.redis.start()
        st.redis.wait_ready(30)
        wait_until(lambda: groups(k5), timeout=90, what="file 5 after Redis came back")
        assert groups(k5)[0]["title"] == "v2 brute force against gina"
        assert not [r for r in dump(st, "processed-files.dlq")], "nothing dead-lettered"
        log("redis outage: retried, then matched")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
