"""Postgres stopped for 10 s mid-run: the services that need it report not ready,
nothing is dead-lettered, and everything is processed once it is back."""
import sys
import time
import urllib.request

from e2ecommon import Pipeline, Stack, T0, WebhookReceiver, ct_events, gzip_records, log, wait_until


def ready(svc):
    try:
        with urllib.request.urlopen(svc.url + "/readyz", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def main():
    wh = WebhookReceiver()
    with Stack("e2e-pg-outage") as st:
        p = Pipeline(st, wh)
        expected = 0
        for i in range(3):
            evs = ct_events(100, {"root_login": 2}, start=T0, seed=200 + i, account="%012d" % (200000000000 + i))
            p.drop("cloudtrail/before-%d.json.gz" % i, gzip_records(evs))
            expected += 1
        wait_until(lambda: len(wh.requests) >= 3, timeout=120, what="alerts before the outage")

        log("stopping postgres")
        st.stop_postgres()
        down_at = time.monotonic()
        for i in range(4):
            evs = ct_events(100, {"root_login": 2}, start=T0, seed=300 + i, account="%012d" % (300000000000 + i))
            p.drop("cloudtrail/during-%d.json.gz" % i, gzip_records(evs))
            expected += 1
        not_ready = set()
        while time.monotonic() - down_at < 10:
            for name, svc in p.svcs.items():
                if not ready(svc):
                    not_ready.add(name)
            time.sleep(0.5)
        log("services that reported not ready during the outage:", sorted(not_ready))
        st.start_postgres()
        log("postgres is back")
        assert "alert-forwarder" in not_ready, not_ready

        wait_until(lambda: len({r["headers"].get("Idempotency-Key") for r in wh.requests}) >= expected,
                   timeout=180, what="all %d alerts delivered after the outage" % expected)
        wait_until(lambda: all(ready(s) for s in p.svcs.values()), timeout=60, what="all ready again")
        rows = int(st.sql("select count(*) from alerts")[0][0])
        assert rows == expected, (rows, expected)
        dlq = p.dlq_records()
        assert all(not v for v in dlq.values()), dlq
        for name, svc in p.svcs.items():
            dl = svc.metric("ocelot_records_dead_lettered_total")
            assert dl == 0, (name, dl)
        log("ok")
    wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
