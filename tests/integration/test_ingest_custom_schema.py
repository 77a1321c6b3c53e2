"""Custom log-type schemas through the live processor: one from OCELOT_CUSTOM_SCHEMAS_DIR
(a CSV firewall log) and one stored with `ocelot logtypes put` (a regex app log); a
broken schema in the log_types table is logged and skipped while the rest run. One
source lists both custom types and AWS.CloudTrail: a mixed, zstd-compressed file is
classified line by line, each event normalized by its schema (timestamps in Panther's
form, numbers typed, indicators), and the lines no type accepts are counted and
quarantined with their reason."""
import json
import pathlib
import subprocess
import sys
import tempfile

from ingestlib import Stack, gen_cloudtrail, lake_rows, log, processed_for, wait_until

KEY = "mixed/2026/11/01/mixed.log.zst"

FW_SCHEMA = """version: 0
schema: Custom.Firewall
description: a CSV firewall log
parser:
  csv:
    delimiter: ","
    columns: [ts, action, src, dst, port]
fields:
  - {name: ts, type: timestamp, timeFormats: ['%Y-%m-%d %H:%M:%S'], isEventTime: true, required: true}
  - name: action
    type: string
    required: true
    validate: {allow: [ALLOW, DENY]}
  - {name: src, type: string, indicators: [ip], required: true}
  - {name: dst, type: string, indicators: [ip]}
  - {name: port, type: int, required: true}
"""

APP_SCHEMA = """version: 0
schema: Custom.AppLog
parser:
  regex:
    match: ['^%{TIME:when} user=(?P<user>\\S+) did=(?P<what>\\S+) from=(?P<host>\\S+)$']
    patternDefinitions: {TIME: '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ'}
fields:
  - {name: when, type: timestamp, timeFormat: rfc3339, isEventTime: true, required: true}
  - {name: user, type: string, indicators: [username], required: true}
  - {name: what, type: string, required: true}
  - {name: host, type: string, indicators: [hostname]}
"""


def main():
    with tempfile.TemporaryDirectory() as custom:
        (pathlib.Path(custom) / "firewall.yml").write_text(FW_SCHEMA)
        (pathlib.Path(custom) / "broken.yml").write_text("schema: Custom.Broken\nfields: [{name: x, type: nope}]\n")
        env = {"OCELOT_CUSTOM_SCHEMAS_DIR": custom}
        with Stack("ingest-custom", env=env) as st:
            app = st.tmp / "app.yml"
            app.write_text(APP_SCHEMA)
            r = st.ocelot("logtypes", "put", str(app))
            assert "stored log type Custom.AppLog" in r.stdout, r.stdout
            # a broken schema is refused by `put` with its line and reason ...
            bad = st.tmp / "bad.yml"
            bad.write_text("schema: Custom.Bad\nfields:\n  - name: x\n    type: timestamp\n")
            r = st.ocelot("logtypes", "put", str(bad), check=False)
            assert r.returncode == 2 and "bad.yml:3" in r.stderr and "timeFormats" in r.stderr, r.stderr
            # ... and one that reaches the table anyway is skipped by the processor
            st.sql("insert into log_types (name, schema) values ('Custom.Bad', 'schema: Custom.Bad\nfields: [')")
            st.ocelot("sources", "add", "--id", "mix", "--label", "Mixed", "--bucket", "logs",
                      "--prefix", "mixed/", "--log-type", "Custom.Firewall", "--log-type",
                      "Custom.AppLog", "--log-type", "AWS.CloudTrail")
            st.service("log-router").wait_ready(60)
            proc = st.service("log-processor")
            proc.wait_ready(60)

            ct = gen_cloudtrail.generate(20, seed=5, spread_minutes=10)
            lines = []
            for i in range(30):
                lines.append("2026-11-01 10:%02d:00,%s,198.51.100.%d,203.0.113.9,%d" %
                             (i, "DENY" if i % 3 == 0 else "ALLOW", i + 1, 22 + i))
                if i < 20:
                    lines.append(json.dumps(ct[i], separators=(",", ":")))
                if i % 10 == 0:
                    lines.append("2026-11-01T11:%02d:00Z user=alice@example.com did=login from=host-%d.example.com" % (i, i))
            lines.append("2026-11-01 10:00:00,MAYBE,198.51.100.1,203.0.113.9,22")  # not an allowed action
            lines.append("complete garbage")
            raw = ("\n".join(lines) + "\n").encode()
            zst = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
            st.put_object("logs", KEY, zst)
            st.notify("logs", KEY, "--etag", "v1")

            wait_until(lambda: sum(int(f.get("row_count", 0)) for f in processed_for(st, KEY)) == 53,
                       timeout=120, what="53 rows from the mixed file")
            by_type = {}
            for f in processed_for(st, KEY):
                for row in lake_rows(st, f["lake_key"]):
                    by_type.setdefault(row["p_log_type"], []).append(row)
            assert {k: len(v) for k, v in by_type.items()} == {
                "Custom.Firewall": 30, "AWS.CloudTrail": 20, "Custom.AppLog": 3}, \
                {k: len(v) for k, v in by_type.items()}
            fw = sorted(by_type["Custom.Firewall"], key=lambda r: r["ts"])[0]
            assert fw["ts"] == "2026-11-01 10:00:00.000000000" and fw["p_event_time"] == fw["ts"], fw
            assert fw["port"] == 22 and fw["action"] == "DENY", fw
            assert fw["p_any_ip_addresses"] == ["198.51.100.1", "203.0.113.9"], fw
            a = sorted(by_type["Custom.AppLog"], key=lambda r: r["when"])[0]
            assert a["user"] == "alice@example.com" and a["p_any_usernames"] == ["alice@example.com"], a
            assert a["p_any_domain_names"] == ["host-0.example.com"], a
            assert a["p_event_time"] == "2026-11-01 11:00:00.000000000", a
            for row in by_type["AWS.CloudTrail"]:
                assert " " in row["eventTime"] and row["p_event_time"] == row["eventTime"], row

            rejected = proc.metric("ocelot_processor_lines_rejected_total", source="mix")
            assert rejected == 2, rejected
            assert proc.metric("ocelot_processor_lines_rejected_total", source="mix",
                               reason="no_matching_log_type") == 2
            q = list((pathlib.Path(st.env["OCELOT_LAKE_ROOT"]) / "quarantine").rglob("*.zst"))
            text = "".join(subprocess.run(["zstd", "-dc", str(p)], capture_output=True, check=True)
                           .stdout.decode() for p in q)
            assert "MAYBE" in text and "is not allowed" in text and "complete garbage" in text, text[:2000]
            plog = proc.log_text()
            assert "Custom.Broken" in plog or "broken.yml" in plog, "the broken file was not reported"
            assert "Custom.Bad" in plog, "the broken table row was not reported"
            log("ok: 53 events of three types, 2 quarantined, broken schemas reported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
