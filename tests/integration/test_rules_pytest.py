"""`ocelot test` on the Panther-format packs in tests/packs/:
 - basic/: every test passes (case-insensitive keys, data models by p_log_type and by
   LogTypes, deep_walk, mocks of module names and of imported global helpers, YAML 1.2
   scalars, InlineFilters, a disabled scheduled rule, a skipped policy), and the values
   of the auxiliary functions are checked from --json: truncation at 1,000 characters,
   DEFAULT severity, lower-case severity, dedup falling back to the title and to
   defaultDedupString:<RuleID>, alert_context as JSON and over 200 KB, destinations []
   and more than 10;
 - --filter and --minimum-tests;
 - failing/: each failure is reported with its reason: a raising rule (class, repr, file
   and line), a non-bool result, raising / wrongly typed auxiliary functions with their
   fallbacks, an endless loop stopped by the time budget (the next test still runs),
   a wrong expectation, a mock of an unknown name, bad metadata with file and line, a
   syntax error, a file without rule(); the exit status is 1;
 - usage errors exit 2."""
import json
import os
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(os.environ.get("OCELOT_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("OCELOT_BUILD_DIR", ROOT / "build"))
OCELOT = BUILD / "bin" / "ocelot"
BASIC = ROOT / "tests" / "packs" / "basic"
FAILING = ROOT / "tests" / "packs" / "failing"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def ocelot(*args, timeout=60):
    p = subprocess.run([str(OCELOT), "test", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ocelot_json(*args):
    rc, out, err = ocelot(*args, "--json")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return rc, rows, err


def count_tests(pack):
    n = 0
    for f in sorted((pack / "rules").glob("*.yml")):
        n += len(re.findall(r"^\s*- Name:", f.read_text(), re.M))
    return n


def by(rows, rule, test):
    got = [r for r in rows if r["rule"] == rule and r["test"] == test]
    check(len(got) == 1, "exactly one result for %s / %s (got %d)" % (rule, test, len(got)))
    return got[0] if got else {}


def test_basic():
    rc, out, err = ocelot(BASIC)
    n = count_tests(BASIC)
    check(rc == 0, "basic pack passes (rc %d): %s %s" % (rc, out, err))
    check(out.strip().splitlines()[-1] == "%d passed, 0 failed" % n,
          "basic summary is '%d passed, 0 failed': %r" % (n, out[-200:]))

    rc, rows, err = ocelot_json(BASIC)
    check(rc == 0 and len(rows) == n and all(r["passed"] for r in rows),
          "every --json row passes (%d rows, rc %d)" % (len(rows), rc))

    r = by(rows, "Test.Outputs", "long title, default severity, no dedup function")
    title = r.get("title", "")
    check(len(title) == 1000 and title.endswith("... (truncated)") and title.startswith("x" * 985),
          "title cut to 1000 characters with the suffix (len %d)" % len(title))
    check(r.get("dedup") == title, "dedup falls back to the title")
    check(r.get("severity") == "HIGH", "DEFAULT severity is the rule's: %r" % r.get("severity"))
    check(r.get("description") == "description for alice", "description() used")
    check(r.get("reference") == "https://example.com/reference", "reference from the metadata")
    check(r.get("runbook") == "from the metadata too", "runbook from the metadata")
    check(r.get("alert_context") == {"user": "alice", "event": {"kind": "long", "user": "alice"},
                                     "n": 1},
          "alert_context with the event inside, as JSON: %r" % r.get("alert_context"))
    check(r.get("destinations") == ["meta-dest"], "destinations() None -> OutputIds")

    r = by(rows, "Test.Outputs", "explicit severity in lower case, empty destinations")
    check(r.get("severity") == "CRITICAL", "severity 'critical' -> CRITICAL")
    check(r.get("destinations") == [], "destinations [] kept (skip delivery)")
    check(r.get("title") == "critical by bob", "title()")

    r = by(rows, "Test.Outputs", "big alert context, too many destinations")
    ctx = r.get("alert_context") or {}
    check(list(ctx) == ["_error"] and "bigger than maximum of 200 KB" in ctx["_error"],
          "alert_context over 200 KB -> _error: %r" % ctx)
    check(r.get("destinations") == ["d%d" % i for i in range(10)], "destinations cut to 10")

    r = by(rows, "Test.DedupDefault", "falls back to defaultDedupString")
    check(r.get("title") == "No title, no dedup", "title falls back to DisplayName")
    check(r.get("dedup") == "defaultDedupString:Test.DedupDefault", "defaultDedupString")
    check(r.get("severity") == "INFO", "severity from the metadata")

    r = by(rows, "Test.DedupFunc", "dedup function wins")
    check(r.get("dedup") == "alice" and r.get("title") == "user alice", "dedup()")
    r = by(rows, "Test.DedupFunc", "empty dedup falls back to the title")
    check(r.get("dedup") == "user ", "empty dedup -> title: %r" % r.get("dedup"))

    r = by(rows, "Test.CaseInsensitive", "exact key wins over a case-insensitive one")
    check(r.get("matched") is False, "exact key preferred")


def test_filters():
    rc, out, _ = ocelot(BASIC, "--filter", "RuleID=Test.Mocks")
    check(rc == 0 and out.strip().endswith("2 passed, 0 failed"), "filter RuleID: %r" % out)
    rc, out, _ = ocelot(BASIC, "--filter", "Severity=high,critical")
    check(rc == 0 and out.strip().endswith("5 passed, 0 failed"), "filter Severity: %r" % out)
    rc, out, _ = ocelot(BASIC, "--filter", "Tags=ocelot-test", "--filter", "LogTypes=AWS.CloudTrail")
    check(rc == 0 and out.strip().endswith("3 passed, 0 failed"), "two filters: %r" % out)
    rc, out, _ = ocelot(BASIC, "--filter", "AnalysisType=scheduled_rule")
    check(rc == 0 and out.strip().endswith("1 passed, 0 failed"), "filter AnalysisType: %r" % out)
    rc, out, _ = ocelot(BASIC, "--filter", "RuleID=No.Such.Rule")
    check(rc == 0 and "no detections matched" in out, "filter that selects nothing: %r" % out)

    rc, out, _ = ocelot(BASIC, "--minimum-tests", "3", "--filter", "RuleID=Test.Mocks,Test.Outputs")
    check(rc == 1, "--minimum-tests fails a rule with fewer tests (rc %d)" % rc)
    check("FAIL Test.Mocks: minimum-tests: has 2 tests, fewer than --minimum-tests 3" in out,
          "--minimum-tests message: %r" % out)
    check("Test.Outputs: minimum-tests" not in out, "rule with enough tests not failed")
    check(out.strip().endswith("5 passed, 1 failed"), "--minimum-tests summary: %r" % out)


def test_failing():
    t0 = time.monotonic()
    rc, rows, err = ocelot_json(FAILING, "--budget-ms", "300", "--minimum-tests", "2")
    took = time.monotonic() - t0
    check(rc == 1, "failing pack exits 1 (rc %d, %s)" % (rc, err))
    check(took < 20, "the endless loop was interrupted (%.1f s)" % took)
    failed = sorted((r["rule"], r["test"]) for r in rows if not r["passed"])
    passed = sorted((r["rule"], r["test"]) for r in rows if r["passed"])
    check(passed == [("Fail.Loops", "the next test still runs"),
                     ("Fail.OneTest", "only test"),
                     ("Fail.WrongExpectation", "this one passes")],
          "the passing tests of the failing pack: %r" % passed)

    r = by(rows, "Fail.Raises", "rule raises KeyError")
    check(r.get("error") is True and r.get("dedup") == "KeyError"
          and r.get("title") == "KeyError('missing')", "rule error: dedup class, title repr: %r" % r)
    check(re.search(r"raises\.py, line 2, in rule", r.get("message", "")) is not None,
          "rule error names file and line: %r" % r.get("message"))

    r = by(rows, "Fail.NonBool", "rule returns a string")
    check(r.get("dedup") == "FunctionReturnTypeError" and "expected [bool]" in r.get("reason", ""),
          "non-bool result: %r" % r)

    r = by(rows, "Fail.AuxRaises", "title raises")
    check(r.get("matched") is True and not r["passed"], "aux failure fails the test")
    check("title(): ValueError: no title today" in r.get("reason", ""), "aux reason: %r" % r)
    check(r.get("title") == "Aux Raises Display", "title falls back to DisplayName: %r" % r)
    check(r.get("dedup") == "defaultDedupString:Fail.AuxRaises",
          "dedup without a working title -> defaultDedupString: %r" % r.get("dedup"))
    check(r.get("severity") == "MEDIUM", "invalid severity falls back: %r" % r.get("severity"))
    check(r.get("description") == "meta description", "non-str description falls back")

    r = by(rows, "Fail.DedupRaises", "dedup raises")
    check(r.get("dedup") == "title for alice", "raising dedup -> title: %r" % r.get("dedup"))
    check("dedup(): KeyError: 'nope'" in r.get("reason", ""), "dedup reason: %r" % r)

    r = by(rows, "Fail.Loops", "never returns")
    check("OcelotTimeoutError" in r.get("reason", "") and "300 ms" in r.get("reason", ""),
          "timeout reason: %r" % r.get("reason"))

    r = by(rows, "Fail.WrongExpectation", "expects true, gets false")
    check(r.get("reason") == "expected true, rule returned false", "wrong expectation: %r" % r)
    r = by(rows, "Fail.WrongExpectation", "mock of an unknown name")
    check("not_defined_here" in r.get("reason", ""), "unknown mock: %r" % r)

    loads = {r["rule"]: r["reason"] for r in rows if r["test"] == "load"}
    check(loads.get(str(FAILING / "bad_enabled.yml") + ":6") == "Enabled must be true or false",
          "Enabled: yes rejected with the line: %r" % loads)
    check(any(k.endswith("bad_severity.yml:5") and "Extreme" in v for k, v in loads.items()),
          "bad Severity with the line")
    check(any(k.endswith("syntax.py") and "SyntaxError" in v and "line 2" in v
              for k, v in loads.items()), "syntax error with the line: %r" % loads)
    check(any(k.endswith("no_rule.py") and "no rule(event)" in v for k, v in loads.items()),
          "file without rule()")
    mins = sorted(r["rule"] for r in rows if r["test"] == "minimum-tests")
    check(mins == ["Fail.AuxRaises", "Fail.DedupRaises", "Fail.NonBool", "Fail.OneTest",
                   "Fail.Raises"], "minimum-tests failures: %r" % mins)

    rc, out, _ = ocelot(FAILING, "--budget-ms", "300")
    check(out.strip().endswith("3 passed, 11 failed"), "text summary: %r" % out[-300:])


def test_usage():
    rc, _, err = ocelot("/nonexistent/pack")
    check(rc == 2 and "could not open pack directory" in err, "missing dir: %d %r" % (rc, err))
    rc, _, err = ocelot(BASIC, "--filter", "Color=red")
    check(rc == 2 and "unknown key" in err, "bad filter key: %d %r" % (rc, err))
    rc, _, _ = ocelot()
    check(rc == 2, "no pack dir")


def main():
    if not OCELOT.exists():
        print("ocelot binary not built:", OCELOT)
        return 1
    for t in (test_basic, test_filters, test_failing, test_usage):
        print("---", t.__name__, flush=True)
        t()
    print("%d checks failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
