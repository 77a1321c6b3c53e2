"""`ocelot migrate`, `sources add|list|remove`, `outputs add|list`, `rules put|list` and
`logtypes add` against a fresh Postgres: round trips, upserts, and rejection of bad input
with a message naming the problem (and nothing written)."""
import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack  # noqa: E402


def log(*a):
    print("[test_cli_sources]", *a, flush=True)


def table(text):
    """Parses an aligned table (a header, then rows; columns two or more spaces apart)
    into dicts by the header's column offsets, checking every row is aligned on them."""
    lines = [l for l in text.splitlines() if l.strip()]
    cols = [(m.group(1), m.start()) for m in re.finditer(r"(\S+(?: \S+)*)", lines[0])]
    rows = []
    for l in lines[1:]:
        row = {}
        for k, (name, start) in enumerate(cols):
            end = cols[k + 1][1] if k + 1 < len(cols) else len(l)
            if start > 0:
                assert l[start - 1] == " " and l[start] != " ", "column %s not aligned in %r" % (name, l)
            row[name] = l[start:end].strip()
        rows.append(row)
    return rows


def expect_fail(st, args, code, needle):
    p = st.ocelot(*args, check=False)
    assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
    assert needle in p.stderr, (args, needle, p.stderr)
    return p


def main():
    with Stack("cli-sources", redis=False, broker=False) as st:
        out = st.ocelot("migrate").stdout
        assert out.startswith("applied 0 migrations"), out  # the stack already migrated

        # -- sources: add, upsert, list, remove
        out = st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail", "--bucket", "logs",
                        "--prefix", "cloudtrail/", "--log-type", "AWS.CloudTrail").stdout
        assert out.startswith("added source ct"), out
        out = st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail prod", "--bucket", "logs",
                        "--prefix", "cloudtrail/", "--log-type", "AWS.CloudTrail",
                        "--log-type", "Custom.Fw,Custom.Dns").stdout
        assert out.startswith("updated source ct"), out
        st.ocelot("sources", "add", "--id", "fw.edge-1", "--label", "Firewall", "--bucket", "net",
                  "--log-type", "Custom.Fw", "--disabled")
        rows = st.sql("select id, label, bucket, prefix, log_types, enabled from sources order by id")
        assert rows == [("ct", "CloudTrail prod", "logs", "cloudtrail/",
                         "{AWS.CloudTrail,Custom.Fw,Custom.Dns}", "t"),
                        ("fw.edge-1", "Firewall", "net", "", "{Custom.Fw}", "f")], rows

        listed = table(st.ocelot("sources", "list").stdout)
        log("sources list:", listed)
        assert [r["ID"] for r in listed] == ["ct", "fw.edge-1"], listed
        assert listed[0]["LABEL"] == "CloudTrail prod" and listed[0]["BUCKET"] == "logs"
        assert listed[0]["PREFIX"] == "cloudtrail/"
        assert listed[0]["LOG TYPES"] == "AWS.CloudTrail,Custom.Fw,Custom.Dns", listed[0]
        assert listed[0]["ENABLED"] == "yes" and listed[1]["ENABLED"] == "no", listed

        # Rejections: nothing is written.
        for bad in ("-bad", "a b", "x" * 129, "ünï", "a/b", ""):
            expect_fail(st, ["sources", "add", "--id", bad, "--label", "L", "--bucket", "b",
                             "--log-type", "AWS.CloudTrail"], 2, "invalid source id")
        expect_fail(st, ["sources", "add", "--id", "nolt", "--label", "L", "--bucket", "b"], 2,
                    "--log-type")
        expect_fail(st, ["sources", "add", "--id", "nolabel", "--bucket", "b", "--log-type", "X"], 2,
                    "--label is required")
        expect_fail(st, ["sources", "add", "--id", "dup", "--label", "L", "--bucket", "logs",
                         "--prefix", "cloudtrail/", "--log-type", "X"], 1,
                    'already belongs to source "ct"')
        expect_fail(st, ["sources", "add", "--id", "x", "--bogus"], 2, "unrecognized option")
        ids = [r[0] for r in st.sql("select id from sources order by id")]
        assert ids == ["ct", "fw.edge-1"], ids

        out = st.ocelot("sources", "remove", "--id", "fw.edge-1").stdout
        assert "removed source fw.edge-1" in out, out
        expect_fail(st, ["sources", "remove", "--id", "fw.edge-1"], 1, 'source "fw.edge-1" does not exist')
        assert [r["ID"] for r in table(st.ocelot("sources", "list").stdout)] == ["ct"]

        # -- outputs
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Test hook",
                  "--url", "http://127.0.0.1:9/hook", "--timeout-ms", "3000",
                  "--header", "X-Token: s3cr\"et", "--header", "X-Team:sec")
        (cfg,) = st.sql("select config::text from outputs where id = 'hook'")[0]
        cfg = json.loads(cfg)
        assert cfg == {"url": "http://127.0.0.1:9/hook", "timeout_ms": 3000,
                       "headers": {"X-Token": "s3cr\"et", "X-Team": "sec"}}, cfg
        out = table(st.ocelot("outputs", "list").stdout)
        assert out == [{"ID": "hook", "TYPE": "webhook", "NAME": "Test hook", "ENABLED": "yes",
                        "TIMEOUT MS": "3000", "URL": "http://127.0.0.1:9/hook"}], out
        expect_fail(st, ["outputs", "add", "--id", "s", "--type", "slack", "--name", "n", "--url",
                         "http://x"], 2, "unsupported output type")
        expect_fail(st, ["outputs", "add", "--id", "s", "--name", "n", "--url", "file:///etc/passwd"], 2,
                    "http:// or https://")

        # -- rules: version increments on update
        rule = st.tmp / "root.yml"
        rule.write_text("AnalysisType: rule\nRuleID: 'Test.Root'  # the id\nEnabled: true\n"
                        "LogTypes:\n  - AWS.CloudTrail\nSeverity: High\nDetection:\n"
                        "  - Key: eventName\n    Condition: Equals\n    Value: ConsoleLogin\n")
        assert "stored rule Test.Root version 1" in st.ocelot("rules", "put", str(rule)).stdout
        assert "stored rule Test.Root version 2" in st.ocelot("rules", "put", str(rule)).stdout
        off = st.tmp / "off.yml"
        off.write_text("Enabled: false\nSeverity: Low\n")
        expect_fail(st, ["rules", "put", str(off)], 2, "no RuleID")
        st.ocelot("rules", "put", str(off), "--id", "Test.Off")
        rows = st.sql("select id, version, kind, enabled, body = %s from rules order by id"
                      % ("'" + rule.read_text().replace("'", "''") + "'"))
        assert rows == [("Test.Off", "1", "yaml", "f", "f"), ("Test.Root", "2", "yaml", "t", "t")], rows
        listed = table(st.ocelot("rules", "list").stdout)
        assert [(r["ID"], r["VERSION"], r["ENABLED"]) for r in listed] == \
            [("Test.Off", "1", "no"), ("Test.Root", "2", "yes")], listed
        expect_fail(st, ["rules", "put", str(st.tmp / "missing.yml")], 1, "could not open")

        # -- log types
        st.ocelot("logtypes", "add", "--name", "Custom.Fw", "--time-field", "meta.ts",
                  "--required", "src,dst")
        rows = st.sql("select name, event_time_field, required_fields from log_types")
        assert rows == [("Custom.Fw", "meta.ts", "{src,dst}")], rows
        expect_fail(st, ["logtypes", "add", "--name", "bad name"], 2, "invalid log type name")

        # -- help
        assert "sources" in st.ocelot("--help").stdout
        assert "--log-type" in st.ocelot("sources", "add", "--help").stdout
        expect_fail(st, ["nosuch"], 2, 'unknown command "nosuch"')
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
