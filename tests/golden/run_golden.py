#!/usr/bin/env python3
"""Golden tests of every managed log type: for tests/golden/logtypes/<LogType>/
  input.log      real-shaped lines that must all be accepted, normalized exactly as
                 expected.jsonl says (p_parse_time fixed, source "golden");
  reject.log     lines that must all be rejected ("# why: ..." comment lines explain them).
Every schema under schemas/ must have a golden directory.

    run_golden.py [--update] [LogType...]

--update rewrites expected.jsonl from the current output (review the diff!)."""
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "logtypes"
BUILD = pathlib.Path(os.environ.get("OCELOT_BUILD_DIR", ROOT / "build"))
OCELOT = BUILD / "bin" / "ocelot"
PARSE_TIME = "2026-12-01T00:00:00Z"


def run(logtype, path):
    env = dict(os.environ, OCELOT_SCHEMAS_DIR=str(ROOT / "schemas"))
    return subprocess.run([str(OCELOT), "logtypes", "test", "--parse-time", PARSE_TIME, "--source",
                           "golden", logtype, str(path)], capture_output=True, text=True, env=env)


def schema_names():
    """(name, has a CSV header line) of every managed schema."""
    names = []
    for f in sorted((ROOT / "schemas").rglob("*.yml")):
        text = f.read_text()
        for line in text.splitlines():
            if line.startswith("schema:"):
                names.append((line.split(":", 1)[1].strip().strip("'\""),
                              "hasHeader: true" in text))
                break
    return names


def main():
    update = "--update" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    failures = []
    names = schema_names()
    checked = 0
    for name, header in names:
        if only and name not in only:
            continue
        d = GOLDEN / name
        if not (d / "input.log").exists():
            failures.append("%s: no golden input (%s)" % (name, d / "input.log"))
            continue
        checked += 1
        r = run(name, d / "input.log")
        if r.returncode != 0:
            failures.append("%s: input.log not all accepted (exit %d):\n%s%s" %
                            (name, r.returncode, "".join(l + "\n" for l in r.stdout.splitlines()
                                                          if l.startswith("line ")), r.stderr))
        elif update:
            (d / "expected.jsonl").write_text(r.stdout)
        elif not (d / "expected.jsonl").exists():
            failures.append("%s: no expected.jsonl (run with --update and review it)" % name)
        elif (d / "expected.jsonl").read_text() != r.stdout:
            want = (d / "expected.jsonl").read_text().splitlines()
            got = r.stdout.splitlines()
            diff = ["line %d:\n  want %s\n  got  %s" % (i + 1, w, g)
                    for i, (w, g) in enumerate(zip(want, got)) if w != g][:3]
            if len(want) != len(got):
                diff.append("want %d events, got %d" % (len(want), len(got)))
            failures.append("%s: output differs from expected.jsonl:\n%s" % (name, "\n".join(diff)))
        rej = d / "reject.log"
        if rej.exists():
            lines = [l for l in rej.read_text().splitlines() if l.strip() and not l.startswith("# ")]
            with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as t:
                t.write("\n".join(lines) + "\n")
            try:
                r = run(name, t.name)
            finally:
                os.unlink(t.name)
            rejected = [l for l in r.stdout.splitlines() if l.startswith("line ") and "rejected" in l]
            want = len(lines) - (1 if header else 0)  # a CSV header line is not rejected
            if r.returncode != 1 or len(rejected) != want:
                failures.append("%s: reject.log: %d of %d lines rejected (exit %d):\n%s" %
                                (name, len(rejected), want, r.returncode, r.stdout[:2000]))
    for f in failures:
        print("FAIL", f)
    print("%d log types checked, %d failures" % (checked, len(failures)))
    if not only and len(names) < 53:
        print("FAIL only %d managed schemas" % len(names))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
