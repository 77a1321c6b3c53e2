"""log-router and log-processor on a real broker and Postgres: a notification for an
object no source matches is dead-lettered to input-notifications.dlq with the oc-*
headers; after `ocelot sources add` and `ocelot requeue` the object reaches source.<id>,
and the processor writes lake files and ProcessedFile records with the right row counts."""
import sys
import time

from ingestlib import (DLQ_HEADERS, Stack, dump, gen_cloudtrail, lake_rows, log, processed_for,
                       rows_for, wait_until)

N = 250


def main():
    with Stack("ingest-requeue", env={"OCELOT_MAX_ATTEMPTS": "3"}) as st:
        router = st.service("log-router")
        proc = st.service("log-processor")
        router.wait_ready(60)
        proc.wait_ready(60)

        events = gen_cloudtrail.generate(N, seed=21)
        st.put_object("unknown-bucket", "fw/x y.json.gz", gen_cloudtrail.encode(events, "records", gz=True))
        st.notify("unknown-bucket", "fw/x y.json.gz")

        wait_until(lambda: len(dump(st, "input-notifications.dlq")) == 1, timeout=90,
                   what="the notification dead-lettered")
        rec = dump(st, "input-notifications.dlq")[0]
        h = rec["headers"]
        for name in DLQ_HEADERS:
            assert name in h, (name, h)
        assert h["oc-error"] == 'no source matches bucket "unknown-bucket" key "fw/x y.json.gz"', h
        assert h["oc-error-class"] == "OC_ERR_NOT_FOUND", h
        assert h["oc-service"] == "log-router", h
        assert h["oc-source-topic"] == "input-notifications", h
        assert h["oc-attempts"] == "3", h
        assert rec["value"]["bucket"] == "unknown-bucket" and rec["value"]["key"] == "fw/x y.json.gz", rec
        assert router.metric("ocelot_router_objects_unmatched_total") >= 3
        log("dead letter:", h["oc-error"])
        time.sleep(2)
        assert len(dump(st, "input-notifications.dlq")) == 1, "dead-lettered more than once"

        st.ocelot("sources", "add", "--id", "late", "--label", "Late source", "--bucket",
                  "unknown-bucket", "--log-type", "AWS.CloudTrail")
        out = st.ocelot("requeue", "--from", "input-notifications.dlq").stdout
        log(out.strip())
        assert "requeued 1 " in out, out

        wait_until(lambda: dump(st, "source.late"), timeout=60, what="the object routed to source.late")
        routed = dump(st, "source.late")
        assert len(routed) == 1, routed
        assert routed[0]["key"] == "unknown-bucket/fw/x y.json.gz", routed[0]
        assert routed[0]["value"]["source_id"] == "late", routed[0]

        wait_until(lambda: rows_for(st, "fw/x y.json.gz") == N, timeout=120,
                   what="ProcessedFile records for all %d rows" % N)
        files = processed_for(st, "fw/x y.json.gz")
        total = 0
        for f in files:
            assert f["kind"] == "FILE_KIND_LOGS", f
            assert f["log_type"] == "AWS.CloudTrail", f
            assert f["source_id"] == "late" and f["source_label"] == "Late source", f
            assert f["lake_key"].startswith("logs/aws_cloudtrail/year=2026/month=11/day=01/"), f
            assert f["input"]["bucket"] == "unknown-bucket" and f["input"]["source_id"] == "late", f
            rows = lake_rows(st, f["lake_key"])
            assert len(rows) == int(f["row_count"]), (len(rows), f)
            for r in rows:
                assert r["p_source_id"] == "late" and r["p_log_type"] == "AWS.CloudTrail", r
                assert len(r["p_row_id"]) == 32
            total += len(rows)
        assert total == N, total
        # the records are keyed by their lake key
        keys = {r["key"] for r in dump(st, "processed-files")}
        assert keys == {f["lake_key"] for f in files}, keys
        assert proc.metric("ocelot_processor_events_total", source="late") == N
        assert proc.metric("ocelot_processor_objects_total", source="late") == 1
        assert dump(st, "source.late.dlq") == []
        log("ok: %d rows in %d lake files" % (total, len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
