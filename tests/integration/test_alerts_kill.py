"""kill -9 of the alert-forwarder, three times, during a stream of matches (24 dedup keys,
3 matches each), each time restarted: afterwards the alert rows are the same as an
undisturbed run gives (one per key, event_count 3, ids equal to the dedup windows'
deterministic ids), none duplicated, the outbox drained, and every alert delivered
exactly once (a duplicate publish after a kill is absorbed by alert-delivery).
Replaying the first round of matches afterwards changes nothing."""
import pathlib
import random
import signal
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, wait_until  # noqa: E402
from test_alerts_forwarder import MIN_US, T0_US, count, dump, log, produce_match  # noqa: E402

KEYS = 24
ROUNDS = 3
KILLS = 3


def main():
    with Stack("alerts-kill", redis=False) as st:
        wh = st.webhook()
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Hook", "--url", wh.url)
        fwd = st.service("alert-forwarder")
        dlv = st.service("alert-delivery")
        fwd.wait_ready(60)
        dlv.wait_ready(60)

        stream = [("k%02d-r%d" % (k, r), "acct-%02d" % k, T0_US + r * 5 * MIN_US + k)
                  for r in range(ROUNDS) for k in range(KEYS)]
        # The stream is produced from a thread at a steady pace while the main thread kills
        # the forwarder whenever it is seen making progress, so kills land at arbitrary
        # points: mid-transaction, between the Postgres commit and the offset commit,
        # during the outbox relay.
        errors = []

        def producer():
            try:
                for mid, dedup, t in stream:
                    produce_match(st, mid, "Test.Kill", dedup, t)
                    time.sleep(0.5)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        th = threading.Thread(target=producer, daemon=True)
        th.start()
        kills = 0
        seen = 0
        for _ in range(KILLS):
            wait_until(lambda: count(st, "select count(*) from processed_matches") > seen, timeout=90,
                       what="forwarder busy")
            time.sleep(random.uniform(0, 0.5))
            fwd.kill(signal.SIGKILL)
            seen = count(st, "select count(*) from processed_matches")
            log("killed alert-forwarder (-9) with %d matches processed" % seen)
            kills += 1
            time.sleep(0.3)
            fwd.restart()
        th.join(300)
        assert not errors, errors
        assert kills == KILLS
        fwd.wait_ready(60)

        total = KEYS * ROUNDS
        wait_until(lambda: count(st, "select count(*) from processed_matches") == total, timeout=120,
                   what="all %d matches processed" % total)
        wait_until(lambda: count(st, "select count(*) from outbox") == 0, timeout=60, what="outbox drained")
        wait_until(lambda: len({r["headers"].get("Idempotency-Key") for r in wh.requests}) >= KEYS,
                   timeout=120, what="%d alerts delivered" % KEYS)
        time.sleep(3)

        rows = st.sql("select a.id, a.dedup_key, a.event_count, d.alert_id from alerts a"
                      " join alert_dedup d using (dedup_key) order by a.dedup_key")
        assert len(rows) == KEYS, "expected %d alert rows, got %d" % (KEYS, len(rows))
        assert len({r[1] for r in rows}) == KEYS, "duplicate alert rows for one dedup key"
        assert all(r[2] == str(ROUNDS) for r in rows), [r for r in rows if r[2] != str(ROUNDS)]
        assert all(r[0] == r[3] for r in rows), "alert ids differ from the windows' ids"
        assert count(st, "select count(*) from alert_events") == total
        ids = {r[0] for r in rows}
        keys = [r["headers"].get("Idempotency-Key") for r in wh.requests]
        assert set(keys) == ids, "delivered ids differ from alert rows"
        assert len(keys) == len(ids), "repeated deliveries: %d requests for %d alerts" % (len(keys), len(ids))
        assert count(st, "select count(*) from alert_deliveries where success") == KEYS
        dup_publish = dlv.metric("ocelot_deliveries_total", result="duplicate")
        log("after %d kills: %d alerts, %d deliveries, %d duplicate publishes absorbed"
            % (kills, len(ids), len(keys), dup_publish))

        # A replay of the first round changes nothing.
        before = st.sql("select id, event_count, updated_at from alerts order by id")
        dup0 = fwd.metric("ocelot_matches_total", result="duplicate")
        for mid, dedup, t in stream[:KEYS]:
            produce_match(st, mid, "Test.Kill", dedup, t)
        wait_until(lambda: fwd.metric("ocelot_matches_total", result="duplicate") - dup0 >= KEYS, timeout=60,
                   what="replayed matches seen as duplicates")
        time.sleep(2)
        assert st.sql("select id, event_count, updated_at from alerts order by id") == before
        assert len(wh.requests) == len(keys)
        assert dump(st, "rule-matches.dlq") == [] and dump(st, "alerts.dlq") == []
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
