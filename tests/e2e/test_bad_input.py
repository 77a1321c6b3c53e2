"""Bad input through the running log-processor: a truncated gzip, invalid UTF-8, a 5 MB
line, JSON nested 10,000 deep and a key with `../` each get a counted, logged rejection,
and the rest of each file is processed."""
import gzip
import json
import sys
import time

from e2ecommon import Stack, T0, ct_events, log, wait_until


def lines_of(events):
    return [json.dumps(e) for e in events]


def main():
    with Stack("e2e-bad-input") as st:
        st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail", "--bucket", "logs",
                  "--log-type", "AWS.CloudTrail")
        router = st.service("log-router")
        proc = st.service("log-processor")
        router.wait_ready(60)
        proc.wait_ready(60)

        good = lines_of(ct_events(300, {}, start=T0, seed=5))
        expected_rows = 0

        # Truncated gzip: cut a 300-line file in half; the lines before the damage count.
        whole = gzip.compress(("\n".join(good) + "\n").encode())
        st.put_object("logs", "truncated.json.gz", whole[: len(whole) // 2])
        st.notify("logs", "truncated.json.gz")

        # Invalid UTF-8, a 5 MB line and deep nesting between good lines (plain text).
        body = "\n".join(good[:100]).encode() + b"\n"
        body += b'{"eventName": "bad \xff\xfe utf8", "eventTime": "2026-11-01T10:00:00Z"}\n'
        body += "\n".join(good[100:200]).encode() + b"\n"
        body += b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}\n'
        body += b"[" * 10000 + b"]" * 10000 + b"\n"
        body += "\n".join(good[200:300]).encode() + b"\n"
        st.put_object("logs", "mixed.json", body)
        st.notify("logs", "mixed.json")
        expected_rows += 300

        # A key escaping the object root.
        st.ocelot("notify", "--bucket", "logs", "--key", "a/../../../etc/passwd", "--no-stat")

        def rows(key):
            out = st.ocelot("topic", "dump", "processed-files", "--timeout-ms", "2000").stdout
            total = 0
            for l in out.splitlines():
                v = json.loads(l)["value"]
                if v.get("input", {}).get("key") == key:
                    total += int(v.get("row_count", 0))
            return total

        wait_until(lambda: rows("mixed.json") == 300, timeout=90, what="300 good rows from mixed.json")
        wait_until(lambda: rows("truncated.json.gz") > 0, timeout=60, what="rows before the gzip damage")
        partial = rows("truncated.json.gz")
        log("rows kept from the truncated gzip: %d of 300" % partial)
        assert 0 < partial < 300

        def rejected(reason_part):
            total = 0.0
            for (name, labels), v in proc.metrics().items():
                if name == "ocelot_processor_lines_rejected_total" and reason_part in labels:
                    total += v
            return total

        wait_until(lambda: proc.metric("ocelot_processor_objects_rejected_total") >= 1, timeout=60,
                   what="the ../ key rejected")
        time.sleep(1)
        m = proc.metrics()
        rej = {k: v for k, v in m.items() if k[0].startswith("ocelot_processor_lines_rejected_total")}
        log("rejections:", rej)
        total_rejected = sum(rej.values())
        assert total_rejected >= 4, rej  # truncation, utf-8, long line, depth
        for part in ("utf", "long", "depth", "trunc"):
            assert any(part in labels for (_, labels) in rej), (part, rej)
        text = proc.log_text()
        assert "passwd" in text or "../" in text, "the ../ rejection was not logged"
        # Nothing went to the DLQ: bad input is quarantined, not retried.
        dlq = st.ocelot("topic", "dump", "source.ct.dlq", "--timeout-ms", "2000").stdout.strip()
        assert dlq == "", dlq
        quarantine = list((st.tmp).rglob("quarantine/**/*.json.zst"))
        assert quarantine, "no quarantine files written"
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
