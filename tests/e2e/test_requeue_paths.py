"""Dead letters and `ocelot requeue`, end to end:
 - a notification for an unknown source lands in input-notifications.dlq with the oc-*
   headers; after `ocelot sources add` and `ocelot requeue` its events are processed and
   its alert is delivered;
 - a webhook answering 500 is retried, then the alert is dead-lettered to alerts.dlq;
   after the webhook recovers, a requeue delivers it exactly once."""
import json
import sys
import time

from e2ecommon import Pipeline, Stack, T0, WebhookReceiver, ct_events, gzip_records, log, wait_until

HEADERS = ["oc-error", "oc-error-class", "oc-service", "oc-source-topic", "oc-source-partition",
           "oc-source-offset", "oc-attempts", "oc-failed-at"]


def dump(st, topic):
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", "3000").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def main():
    wh = WebhookReceiver()
    with Stack("e2e-requeue") as st:
        p = Pipeline(st, wh, extra_env={"OCELOT_MAX_ATTEMPTS": "3"})

        # 1. Unknown source.
        evs = ct_events(50, {"root_login": 2}, start=T0, seed=11, account="111111111111")
        st.put_object("unknown-bucket", "fw/x.json.gz", gzip_records(evs))
        st.notify("unknown-bucket", "fw/x.json.gz")
        wait_until(lambda: len(dump(st, "input-notifications.dlq")) == 1, timeout=60,
                   what="notification dead-lettered")
        rec = dump(st, "input-notifications.dlq")[0]
        for h in HEADERS:
            assert h in rec["headers"], (h, rec["headers"])
        assert rec["headers"]["oc-service"] == "log-router", rec["headers"]
        assert rec["headers"]["oc-source-topic"] == "input-notifications"
        assert "unknown-bucket" in rec["headers"]["oc-error"], rec["headers"]["oc-error"]
        assert rec["headers"]["oc-error-class"] == "OC_ERR_NOT_FOUND", rec["headers"]
        log("dead letter:", rec["headers"]["oc-error"])

        st.ocelot("sources", "add", "--id", "late", "--label", "Late source", "--bucket", "unknown-bucket",
                  "--log-type", "AWS.CloudTrail")
        out = st.ocelot("requeue", "--from", "input-notifications.dlq").stdout
        log(out.strip())
        assert "requeued 1 " in out, out
        wait_until(lambda: any(r["body_json"].get("title", "").endswith("111111111111") for r in wh.requests),
                   timeout=120, what="alert from the requeued object")

        # 2. Webhook answering 500.
        wh.status = 500
        n_before = len(wh.requests)
        evs = ct_events(50, {"root_login": 2}, start=T0, seed=12, account="222222222222")
        p.drop("cloudtrail/y.json.gz", gzip_records(evs))
        wait_until(lambda: len(dump(st, "alerts.dlq")) == 1, timeout=120, what="alert dead-lettered")
        attempts = len(wh.requests) - n_before
        log("webhook saw %d attempts before the dead letter" % attempts)
        assert attempts == 3, attempts
        failed = int(st.sql("select count(*) from alert_deliveries where not success")[0][0])
        assert failed == 3, failed

        wh.status = 200
        n_before = len(wh.requests)
        out = st.ocelot("requeue", "--from", "alerts.dlq").stdout
        assert "requeued 1 " in out, out
        wait_until(lambda: len(wh.requests) > n_before, timeout=60, what="delivery after requeue")
        time.sleep(3)
        # Requeue again: already delivered, so nothing more is sent.
        st.ocelot("requeue", "--from", "alerts.dlq")
        time.sleep(3)
        after = wh.requests[n_before:]
        assert len(after) == 1, after
        assert after[0]["body_json"]["title"].endswith("222222222222")
        ok = int(st.sql("select count(*) from alert_deliveries where success")[0][0])
        assert ok == 2, ok
        log("ok")
    wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
