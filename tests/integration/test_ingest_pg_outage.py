"""Postgres down under the log-router and log-processor: objects of sources they know keep
flowing from their caches; an object whose source must be looked up waits (the router
reports not ready and holds its batch, nothing is dead-lettered) and is routed and
processed once Postgres is back."""
import sys
import time

from ingestlib import Stack, dump, gen_cloudtrail, log, rows_for, wait_until

N = 120


def main():
    # Only misses re-read the sources here, so the router's cache is known exactly.
    env = {"OCELOT_SOURCES_REFRESH_MS": "600000", "OCELOT_MAX_ATTEMPTS": "2"}
    with Stack("ingest-pg-outage", env=env) as st:
        st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail", "--bucket", "logs",
                  "--prefix", "ct/", "--log-type", "AWS.CloudTrail")
        router = st.service("log-router")
        proc = st.service("log-processor")
        router.wait_ready(60)
        proc.wait_ready(60)
        st.put_object("logs", "ct/warm.json", gen_cloudtrail.encode(gen_cloudtrail.generate(5), "lines"))
        st.notify("logs", "ct/warm.json")
        wait_until(lambda: rows_for(st, "ct/warm.json") == 5, timeout=120, what="warm-up rows")

        # A source the router has not read yet, then Postgres goes away.
        st.ocelot("sources", "add", "--id", "later", "--label", "Later", "--bucket", "later",
                  "--log-type", "AWS.CloudTrail")
        st.stop_postgres()
        log("postgres stopped")
        st.put_object("logs", "ct/b.json.gz", gen_cloudtrail.encode(gen_cloudtrail.generate(N, seed=4), "lines", gz=True))
        st.notify("logs", "ct/b.json.gz")
        # The known source flows from the caches while Postgres is down.
        wait_until(lambda: rows_for(st, "ct/b.json.gz") == N, timeout=60,
                   what="rows of the known source during the outage")

        # An object whose source needs a look-up: the router waits (the whole batch, as
        # the runtime retries transient errors), never dead-letters.
        st.put_object("later", "a.json.gz", gen_cloudtrail.encode(gen_cloudtrail.generate(N, seed=3), "lines", gz=True))
        st.notify("later", "a.json.gz")
        not_ready = False
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6:
            not_ready = not_ready or not router.ready()
            time.sleep(0.2)
        assert not_ready, "the router never reported not ready while waiting for Postgres"
        assert dump(st, "input-notifications.dlq") == [], "dead-lettered during an outage"
        assert rows_for(st, "a.json.gz") == 0

        st.start_postgres()
        log("postgres is back")
        wait_until(lambda: rows_for(st, "a.json.gz") == N, timeout=120,
                   what="rows of the waiting object after the outage")
        wait_until(router.ready, timeout=30, what="the router ready again")
        assert dump(st, "input-notifications.dlq") == []
        assert dump(st, "source.later.dlq") == []
        assert router.metric("ocelot_records_dead_lettered_total") == 0
        assert proc.metric("ocelot_records_dead_lettered_total") == 0
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
