"""A gzip CloudTrail file in the {"Records":[...]} form and one in JSON lines, with the
same events under the same object identity, give identical normalized rows (apart from
p_parse_time)."""
import sys

from ingestlib import Stack, gen_cloudtrail, lake_rows, log, processed_for, rows_for, wait_until

N = 600
KEY = "cloudtrail/2026/11/01/trail.json.gz"


def rows_of(st, files):
    out = []
    for f in sorted(files, key=lambda f: f["lake_key"]):
        for r in lake_rows(st, f["lake_key"]):
            r.pop("p_parse_time")
            out.append(r)
    return out


def main():
    with Stack("ingest-forms") as st:
        st.ocelot("sources", "add", "--id", "ct", "--label", "CloudTrail", "--bucket", "logs",
                  "--prefix", "cloudtrail/", "--log-type", "AWS.CloudTrail")
        st.service("log-router").wait_ready(60)
        proc = st.service("log-processor")
        proc.wait_ready(60)
        events = gen_cloudtrail.generate(N, seed=33, spread_minutes=150)

        st.put_object("logs", KEY, gen_cloudtrail.encode(events, "records", gz=True))
        st.notify("logs", KEY, "--etag", "v1")
        wait_until(lambda: rows_for(st, KEY) == N, timeout=120, what="rows of the Records file")
        first = processed_for(st, KEY)
        a = rows_of(st, first)
        assert len(a) == N, len(a)
        assert len({f["lake_key"] for f in first}) >= 3, first  # 150 minutes: several hours

        # The same events as JSON lines at the same key and version: the same lake files
        # are rewritten with the same rows.
        st.put_object("logs", KEY, gen_cloudtrail.encode(events, "lines", gz=True))
        st.notify("logs", KEY, "--etag", "v1")
        wait_until(lambda: rows_for(st, KEY) == 2 * N, timeout=120, what="rows of the JSON-lines file")
        files = processed_for(st, KEY)
        count = {}
        for f in files:
            count[f["lake_key"]] = count.get(f["lake_key"], 0) + 1
        assert set(count) == {f["lake_key"] for f in first}, (count, first)
        assert all(c == 2 for c in count.values()), count
        b = rows_of(st, first)
        assert a == b, "the two forms gave different rows"
        # the rows carry the events: spot-check against the input
        by_id = {e["eventID"]: e for e in events}
        for r in a[:50]:
            e = by_id[r["eventID"]]
            # timestamps are normalized to Panther's form; the event time is eventTime
            assert r["eventName"] == e["eventName"]
            assert r["eventTime"].startswith(e["eventTime"][:10] + " " + e["eventTime"][11:19]), r
            assert r["p_event_time"] == r["eventTime"]
        assert proc.metric("ocelot_processor_events_total", source="ct") == 2 * N
        log("ok: %d identical rows from both forms" % len(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
