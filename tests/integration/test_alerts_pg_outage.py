"""Postgres stopped for about 10 s under the alert-forwarder and alert-delivery: the
forwarder reports not ready (its outbox relay and its batches fail transiently), nothing
is dead-lettered, and once Postgres is back every match is applied and every alert
delivered exactly once."""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, wait_until  # noqa: E402
from test_alerts_forwarder import MIN_US, T0_US, count, dump, log, produce_match  # noqa: E402


def main():
    with Stack("alerts-pg-outage", redis=False) as st:
        wh = st.webhook()
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Hook", "--url", wh.url)
        fwd = st.service("alert-forwarder")
        dlv = st.service("alert-delivery")
        fwd.wait_ready(60)
        dlv.wait_ready(60)

        for i in range(3):
            produce_match(st, "before-%d" % i, "Test.Outage", "b%d" % i, T0_US + i * MIN_US)
        wait_until(lambda: len(wh.requests) >= 3, timeout=60, what="alerts before the outage")

        log("stopping postgres")
        st.stop_postgres()
        down_at = time.monotonic()
        not_ready = set()
        try:
            for i in range(5):
                produce_match(st, "during-%d" % i, "Test.Outage", "d%d" % i, T0_US + i * MIN_US)
                # ... and one more match for a key that already has an alert
                produce_match(st, "during-add-%d" % i, "Test.Outage", "b0", T0_US + (10 + i) * MIN_US)
            while time.monotonic() - down_at < 10:
                for name, svc in (("alert-forwarder", fwd), ("alert-delivery", dlv)):
                    if not svc.ready():
                        not_ready.add(name)
                time.sleep(0.3)
            assert len(wh.requests) == 3, "delivered during the outage: %r" % wh.requests[3:]
        finally:
            st.start_postgres()
        log("postgres is back; not ready during the outage:", sorted(not_ready))
        assert "alert-forwarder" in not_ready, not_ready

        wait_until(lambda: count(st, "select count(*) from processed_matches") == 13, timeout=120,
                   what="all 13 matches applied")
        wait_until(lambda: len(wh.requests) >= 8, timeout=120, what="8 alerts delivered")
        wait_until(lambda: fwd.ready() and dlv.ready(), timeout=60, what="ready again")
        time.sleep(3)
        keys = [r["headers"].get("Idempotency-Key") for r in wh.requests]
        assert len(keys) == len(set(keys)) == 8, keys
        assert count(st, "select count(*) from alerts") == 8
        assert st.sql("select event_count from alerts where dedup_key = 'Test.Outage:b0'") == [("6",)]
        assert count(st, "select count(*) from outbox") == 0
        assert dump(st, "rule-matches.dlq") == [] and dump(st, "alerts.dlq") == []
        for svc in (fwd, dlv):
            assert svc.metric("ocelot_records_dead_lettered_total") == 0, svc.name
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
