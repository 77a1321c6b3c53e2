"""Kill -9 the alert-forwarder and then the alert-delivery in the middle of a run and
restart them: the same alerts, none lost, no duplicate alert rows. Every delivery carries
the alert id as Idempotency-Key; a repeat can only come from a kill between the webhook
accepting and the delivery being recorded, and is counted and reported."""
import collections
import signal
import sys
import time

from e2ecommon import Pipeline, Stack, T0, WebhookReceiver, ct_events, gzip_records, log, wait_until

FILES = 24


def main():
    wh = WebhookReceiver()
    wh.delay = 0.15  # keep deliveries in flight so the kill lands mid-run
    with Stack("e2e-kill") as st:
        p = Pipeline(st, wh)
        for i in range(FILES):
            account = "%012d" % (100000000000 + i)
            evs = ct_events(60, {"root_login": 3}, start=T0, spread_minutes=5, seed=100 + i, account=account)
            p.drop("cloudtrail/kill/file-%02d.json.gz" % i, gzip_records(evs))
            if i == 7:
                wait_until(lambda: int(st.sql("select count(*) from processed_matches")[0][0]) > 0,
                           timeout=90, what="forwarder busy")
                log("kill -9 alert-forwarder")
                p.svcs["alert-forwarder"].kill(signal.SIGKILL)
                time.sleep(1)
                p.svcs["alert-forwarder"].restart()
            if i == 15:
                wait_until(lambda: len(wh.requests) > 0, timeout=90, what="deliveries under way")
                log("kill -9 alert-delivery")
                p.svcs["alert-delivery"].kill(signal.SIGKILL)
                time.sleep(1)
                p.svcs["alert-delivery"].restart()
            time.sleep(0.2)

        def delivered_ids():
            return {r["headers"].get("Idempotency-Key") for r in wh.requests if r.get("status", 200) < 300}

        wait_until(lambda: len(delivered_ids()) >= FILES, timeout=240,
                   what="all %d alerts delivered" % FILES)
        time.sleep(5)

        rows = st.sql("select id, dedup_key from alerts")
        assert len(rows) == FILES, "expected %d alert rows, got %d" % (FILES, len(rows))
        assert len({r[1] for r in rows}) == FILES, "duplicate alert rows for one dedup key"
        ids = {r[0] for r in rows}
        assert delivered_ids() == ids, "delivered ids differ from alert rows"
        ok = int(st.sql("select count(*) from alert_deliveries where success")[0][0])
        assert ok == FILES, "expected %d recorded successes, got %d" % (FILES, ok)
        counts = collections.Counter(r["headers"].get("Idempotency-Key") for r in wh.requests
                                     if r.get("status", 200) < 300)
        repeats = {k: v for k, v in counts.items() if v > 1}
        log("alerts: %d, webhook requests: %d, repeated deliveries: %d %s"
            % (len(ids), len(wh.requests), sum(v - 1 for v in repeats.values()), repeats))
        # Only the one alert-delivery kill can leave an accepted-but-unrecorded delivery.
        assert sum(v - 1 for v in repeats.values()) <= 1, repeats
        dlq = p.dlq_records()
        assert all(not v for v in dlq.values()), dlq
        log("ok")
    wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
