"""`ocelot requeue` on the development broker:
 - --dry-run lists the dead letters and moves nothing (a later real run still moves all);
 - --limit N moves exactly N, the rest stay, and a second run moves the rest;
 - every record arrives with its key and value, its non-oc- headers kept and the oc-*
   headers dropped; the target is the oc-source-topic header, else the DLQ name without
   ".dlq", else --to;
 - a drained DLQ requeues nothing; failed deliveries and an unreachable broker are a
   clear non-zero exit that commits nothing not delivered."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, free_port  # noqa: E402

N = 2500  # more than one requeue batch (1,000)
OC_HEADERS = ["oc-error=boom: no source", "oc-error-class=OC_ERR_NOT_FOUND", "oc-service=log-router",
              "oc-source-partition=0", "oc-source-offset=7", "oc-attempts=3",
              "oc-failed-at=2026-11-28T10:00:00.000000Z"]


def log(*a):
    print("[test_cli_requeue]", *a, flush=True)


def dump(st, topic):
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", "3000").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def produce_lines(st, topic, records, headers):
    args = ["topic", "produce", topic, "--lines"]
    for h in headers:
        args += ["--header", h]
    text = "".join("%s\t%s\n" % kv for kv in records)
    out = st.ocelot(*args, input=text).stdout
    assert ("produced %d records" % len(records)) in out, out


def main():
    with Stack("cli-requeue", pg=False, redis=False, migrate=False) as st:
        records = [("k%05d" % i, '{"n":%d,"text":"value %d"}' % (i, i)) for i in range(N)]
        produce_lines(st, "alpha.dlq", records,
                      ["trace-id=abc-123", "oc-source-topic=alpha"] + ["%s" % h for h in OC_HEADERS])
        # Without oc-source-topic: the target is the DLQ name without ".dlq".
        produce_lines(st, "alpha.dlq", [("plain-%d" % i, "p%d" % i) for i in range(5)], ["x=1"])
        # With an oc-source-topic naming another topic: it goes there.
        produce_lines(st, "alpha.dlq", [("other-%d" % i, "o%d" % i) for i in range(3)],
                      ["oc-source-topic=beta", "oc-error=elsewhere"])
        total = N + 5 + 3
        assert len(dump(st, "alpha.dlq")) == total

        # 1. Dry run: lists, moves nothing, commits nothing.
        p = st.ocelot("requeue", "--from", "alpha.dlq", "--dry-run")
        lines = p.stdout.splitlines()
        assert lines[-1].startswith("would requeue %d records from alpha.dlq to " % total), lines[-1]
        listed = [l for l in lines if l.startswith("partition=")]
        assert len(listed) == total, len(listed)
        assert any('key="k00042"' in l and 'oc-error="boom: no source"' in l and "to=alpha " in l
                   for l in listed), listed[:3]
        assert any('key="other-1"' in l and "to=beta " in l for l in listed)
        assert dump(st, "alpha") == [] and dump(st, "beta") == []
        log("dry run listed", len(listed), "records and moved none")

        # 2. --limit: exactly N moved, then the rest.
        out = st.ocelot("requeue", "--from", "alpha.dlq", "--limit", "700").stdout
        assert "requeued 700 records from alpha.dlq to " in out, out
        moved = dump(st, "alpha") + dump(st, "beta")
        assert len(moved) == 700, len(moved)
        p = st.ocelot("requeue", "--from", "alpha.dlq")
        assert ("requeued %d records from alpha.dlq to " % (total - 700)) in p.stdout, p.stdout
        assert "requeued 1000 records" in p.stderr, p.stderr  # the progress line
        log(p.stdout.strip())

        # 3. Everything arrived once, with key, value and headers as promised.
        alpha, beta = dump(st, "alpha"), dump(st, "beta")
        assert len(alpha) == N + 5 and len(beta) == 3, (len(alpha), len(beta))
        by_key = {r["key"]: r for r in alpha}
        assert len(by_key) == N + 5, "duplicate keys in alpha"
        for k, v in records:
            r = by_key[k]
            assert r["value"] == v, (k, r["value"])
            assert r["headers"] == {"trace-id": "abc-123"}, r["headers"]
        for i in range(5):
            r = by_key["plain-%d" % i]
            assert r["value"] == "p%d" % i and r["headers"] == {"x": "1"}, r
        assert sorted(r["key"] for r in beta) == ["other-0", "other-1", "other-2"]
        assert all(r["headers"] == {} for r in beta), beta
        # The DLQ itself is untouched (requeue only commits its group's offsets).
        assert len(dump(st, "alpha.dlq")) == total

        # 4. Nothing left: a rerun moves nothing; a dry run lists nothing.
        assert "requeued 0 records" in st.ocelot("requeue", "--from", "alpha.dlq").stdout
        assert "would requeue 0 records" in st.ocelot("requeue", "--from", "alpha.dlq", "--dry-run").stdout

        # 5. --to and another group: the same DLQ read again from the start into a new topic.
        out = st.ocelot("requeue", "--from", "alpha.dlq", "--to", "gamma", "--group", "g2",
                        "--limit", "10").stdout
        assert "requeued 10 records from alpha.dlq to gamma" in out, out
        assert len(dump(st, "gamma")) == 10

        # 6. Bad arguments and a missing DLQ.
        p = st.ocelot("requeue", "--from", "alpha", check=False)
        assert p.returncode == 2 and "not a dead-letter topic" in p.stderr, p.stderr
        p = st.ocelot("requeue", "--from", "nosuch.dlq")
        assert "requeued 0 records from nosuch.dlq to nosuch" in p.stdout, p.stdout

        # 7. Deliveries failing (every record times out before it can be sent): non-zero
        #    exit, a message, nothing committed; a later run moves everything.
        produce_lines(st, "eps.dlq", [("e%d" % i, "x") for i in range(1500)], ["oc-error=x"])
        p = st.ocelot("requeue", "--from", "eps.dlq", check=False,
                      env={"OCELOT_KAFKA_MESSAGE_TIMEOUT_MS": "6", "OCELOT_KAFKA_LINGER_MS": "5"})
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "could not be delivered to eps" in p.stderr, p.stderr
        assert "requeued" not in p.stdout, p.stdout
        out = st.ocelot("requeue", "--from", "eps.dlq").stdout
        assert "requeued 1500 records from eps.dlq to eps" in out, out
        assert {r["key"] for r in dump(st, "eps")} == {"e%d" % i for i in range(1500)}

        # 8. Broker unreachable: non-zero, and the message says so.
        port = free_port()
        p = st.ocelot("requeue", "--from", "alpha.dlq", check=False,
                      env={"OCELOT_KAFKA_BROKERS": "127.0.0.1:%d" % port})
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "could not reach the Kafka broker at 127.0.0.1:%d" % port in p.stderr, p.stderr
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
