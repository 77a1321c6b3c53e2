"""alert-forwarder (with alert-delivery and a webhook) on a real broker and Postgres:
 - 40 matches of one rule and dedup string in one window -> one alert, event_count 40,
   delivered once with the alert id as Idempotency-Key; one group carrying 40 matches
   is delivered with event_count 40 and the full body;
 - a match past the dedup window (event time) -> a second alert;
 - Threshold 5 with 3 events -> held, nothing delivered; 2 more -> created, delivered;
 - replaying the same match ids -> nothing changes (the inbox);
 - a rule-error match deduplicates apart from the rule's alerts; skip_delivery alerts
   are stored but not sent;
 - a record that does not decode goes to rule-matches.dlq and the stream moves on;
 - processed match ids older than OCELOT_INBOX_RETENTION_HOURS are pruned.

Also holds the protobuf hand-encoding helpers the other test_alerts_* files import."""
import datetime as dt
import json
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, bin_path, wait_until  # noqa: E402

T0_US = int(dt.datetime(2026, 11, 1, 10, 0, 0, tzinfo=dt.timezone.utc).timestamp()) * 1000000
MIN_US = 60 * 1000000


def log(*a):
    print("[%s test_alerts]" % time.strftime("%H:%M:%S"), *a, flush=True)


# ---- protobuf wire format, by hand (proto/ocelot/v1/messages.proto) ----

def _varint(n):
    n &= (1 << 64) - 1  # negative int64/int32 -> two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _encode(fields, msg):
    """fields: name -> (number, kind) with kind "s" string, "v" varint, "rs" repeated
    string. Unknown names raise; zero/empty values are left out as proto3 does."""
    out = bytearray()
    for name, value in msg.items():
        num, kind = fields[name]
        if kind == "s":
            if value:
                b = value.encode() if isinstance(value, str) else bytes(value)
                out += _varint(num << 3 | 2) + _varint(len(b)) + b
        elif kind == "v":
            if value:
                out += _varint(num << 3 | 0) + _varint(int(value))
        elif kind == "rs":
            for v in value:
                b = v.encode()
                out += _varint(num << 3 | 2) + _varint(len(b)) + b
    return bytes(out)


RMG_FIELDS = {
    "id": (1, "s"), "rule_id": (2, "s"), "rule_version": (3, "s"), "dedup": (4, "s"),
    "log_type": (5, "s"), "match_count": (6, "v"), "first_event_time_us": (7, "v"),
    "last_event_time_us": (8, "v"), "title": (9, "s"), "severity": (10, "s"),
    "alert_context_json": (11, "s"), "description": (12, "s"), "reference": (13, "s"),
    "runbook": (14, "s"), "destinations": (15, "rs"), "sample_events": (16, "rs"),
    "is_error": (17, "v"), "dedup_period_minutes": (18, "v"), "threshold": (19, "v"),
    "lake_key": (20, "s"), "skip_delivery": (21, "v"),
}

ALERT_FIELDS = {
    "alert_id": (1, "s"), "rule_id": (2, "s"), "rule_version": (3, "s"), "title": (4, "s"),
    "severity": (5, "s"), "dedup": (6, "s"), "event_count": (7, "v"),
    "first_event_time_us": (8, "v"), "last_event_time_us": (9, "v"), "created_at_us": (10, "v"),
    "alert_context_json": (11, "s"), "destinations": (12, "rs"), "retry_count": (13, "v"),
    "not_before_us": (14, "v"), "log_type": (15, "s"), "description": (16, "s"),
    "reference": (17, "s"), "runbook": (18, "s"), "is_error": (19, "v"),
    "sample_events": (20, "rs"), "skip_delivery": (21, "v"),
}


def match_group(mid, rule_id, dedup, first_us, count=1, last_us=None, **kw):
    """A RuleMatchGroup as bytes; the key it travels under is "<rule_id>:<dedup>"."""
    msg = {"id": mid, "rule_id": rule_id, "rule_version": "1", "dedup": dedup,
           "log_type": "AWS.CloudTrail", "match_count": count, "first_event_time_us": first_us,
           "last_event_time_us": last_us if last_us is not None else first_us,
           "title": kw.pop("title", "%s fired for %s" % (rule_id, dedup)),
           "severity": kw.pop("severity", "HIGH"), "dedup_period_minutes": 60, "threshold": 1}
    msg.update(kw)
    return _encode(RMG_FIELDS, msg)


def alert_msg(alert_id, **kw):
    msg = {"alert_id": alert_id, "rule_id": "Test.Direct", "title": "Direct alert %s" % alert_id,
           "severity": "MEDIUM", "dedup": "d", "event_count": 1, "first_event_time_us": T0_US,
           "last_event_time_us": T0_US, "created_at_us": T0_US + MIN_US, "log_type": "AWS.CloudTrail"}
    msg.update(kw)
    return _encode(ALERT_FIELDS, msg)


def produce(st, topic, key, value):
    """One record through `ocelot topic produce` (stdin carries the raw bytes)."""
    p = subprocess.run([str(bin_path("ocelot")), "topic", "produce", topic, "--key", key],
                       env=st.env, input=value, capture_output=True, timeout=120, cwd=str(st.tmp))
    if p.returncode != 0:
        raise AssertionError("ocelot topic produce %s failed (%d): %s" % (topic, p.returncode,
                                                                          p.stderr.decode(errors="replace")))


def produce_match(st, mid, rule_id, dedup, first_us, **kw):
    produce(st, "rule-matches", "%s:%s" % (rule_id, dedup), match_group(mid, rule_id, dedup, first_us, **kw))


def dump(st, topic):
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", "3000").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def count(st, sql):
    return int(st.sql(sql)[0][0])


def hooks_for(wh, rule_id):
    return [r for r in list(wh.requests) if (r["body_json"] or {}).get("rule_id") == rule_id]


# ---- the test ----

def main():
    with Stack("alerts-forwarder", redis=False) as st:
        wh = st.webhook()
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Test hook",
                  "--url", wh.url, "--timeout-ms", "3000")
        fwd = st.service("alert-forwarder", env={"OCELOT_MAX_ATTEMPTS": "2"})
        dlv = st.service("alert-delivery")
        fwd.wait_ready(60)
        dlv.wait_ready(60)

        # 1. 40 matches, one window (every 45 s over 30 minutes of event time).
        for i in range(40):
            produce_match(st, "m40-%02d" % i, "Test.Forty", "acct-1", T0_US + i * 45 * 1000000)
        wait_until(lambda: count(st, "select count(*) from processed_matches where id like 'm40-%'") == 40,
                   timeout=90, what="40 matches processed")
        wait_until(lambda: hooks_for(wh, "Test.Forty"), timeout=60, what="Test.Forty delivered")
        rows = st.sql("select id, event_count, dedup_key from alerts where rule_id = 'Test.Forty'")
        assert len(rows) == 1, rows
        forty_id = rows[0][0]
        assert rows[0][1] == "40", rows
        assert rows[0][2] == "Test.Forty:acct-1", rows
        assert count(st, "select count(*) from alert_events where alert_id = '%s'" % forty_id) == 40
        dedup = st.sql("select event_count, alert_created, alert_id,"
                       " to_char(window_start at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
                       " to_char(last_event_time at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                       " from alert_dedup where rule_id = 'Test.Forty'")
        assert dedup == [("40", "t", forty_id, "2026-11-01 10:00:00", "2026-11-01 10:29:15")], dedup
        log("40 matches -> alert", forty_id, "with event_count 40")

        # One group carrying 40 matches: the webhook body shows all of it.
        produce_match(st, "g40", "Test.Group", "d-1", T0_US, count=40, last_us=T0_US + 20 * MIN_US,
                      title="Forty in one group", severity="critical",
                      alert_context_json='{"ip": "198.51.100.7", "n": [1, 2]}',
                      description="why", reference="https://ref", runbook="do this",
                      sample_events=['{"eventName": "ConsoleLogin"}', "not json"])
        wait_until(lambda: hooks_for(wh, "Test.Group"), timeout=60, what="Test.Group delivered")
        req = hooks_for(wh, "Test.Group")[0]
        b = req["body_json"]
        assert b["event_count"] == 40, b
        assert b["title"] == "Forty in one group" and b["severity"] == "CRITICAL", b
        assert b["first_event_time"] == "2026-11-01T10:00:00.000000Z", b
        assert b["last_event_time"] == "2026-11-01T10:20:00.000000Z", b
        assert b["context"] == {"ip": "198.51.100.7", "n": [1, 2]}, b
        assert b["sample_events"] == [{"eventName": "ConsoleLogin"}, "not json"], b
        assert b["description"] == "why" and b["runbook"] == "do this" and b["is_error"] is False, b
        assert req["headers"].get("Idempotency-Key") == b["id"], req["headers"]
        assert req["headers"].get("X-Ocelot-Alert-Id") == b["id"], req["headers"]
        assert req["headers"].get("Content-Type") == "application/json", req["headers"]

        # 2. Past the window (event time 10:00 + 60 min): a second alert.
        produce_match(st, "m40-late", "Test.Forty", "acct-1", T0_US + 60 * MIN_US)
        wait_until(lambda: len(hooks_for(wh, "Test.Forty")) >= 2, timeout=60, what="second Test.Forty alert")
        rows = st.sql("select id, event_count from alerts where rule_id = 'Test.Forty' order by first_event_time")
        assert len(rows) == 2 and rows[0] == (forty_id, "40") and rows[1][1] == "1", rows
        ids = [r["body_json"]["id"] for r in hooks_for(wh, "Test.Forty")]
        assert sorted(ids) == sorted([rows[0][0], rows[1][0]]), (ids, rows)
        log("match past the window -> second alert", rows[1][0])

        # 3. Threshold 5: three events are held, nothing is delivered.
        for i in range(3):
            produce_match(st, "th-%d" % i, "Test.Threshold", "u", T0_US + i * MIN_US, threshold=5)
        wait_until(lambda: count(st, "select count(*) from processed_matches where id like 'th-%'") == 3,
                   timeout=60, what="threshold matches processed")
        time.sleep(2)
        held = st.sql("select event_count, alert_created from alert_dedup where rule_id = 'Test.Threshold'")
        assert held == [("3", "f")], held
        assert count(st, "select count(*) from alerts where rule_id = 'Test.Threshold'") == 0
        assert not hooks_for(wh, "Test.Threshold")
        # Two more reach the threshold: created with the window's five events.
        for i in range(3, 5):
            produce_match(st, "th-%d" % i, "Test.Threshold", "u", T0_US + i * MIN_US, threshold=5)
        wait_until(lambda: hooks_for(wh, "Test.Threshold"), timeout=60, what="threshold alert delivered")
        assert hooks_for(wh, "Test.Threshold")[0]["body_json"]["event_count"] == 5
        assert st.sql("select event_count from alerts where rule_id = 'Test.Threshold'") == [("5",)]
        held_id = st.sql("select alert_id from alert_dedup where rule_id = 'Test.Threshold'")[0][0]
        assert count(st, "select count(*) from alert_events where alert_id = '%s'" % held_id) == 5
        log("threshold 5: held at 3, created at 5")

        # 4. Replays of the same match ids change nothing.
        before_alerts = st.sql("select id, event_count, updated_at from alerts order by id")
        before_pm = count(st, "select count(*) from processed_matches")
        before_hooks = len(wh.requests)
        dup0 = fwd.metric("ocelot_matches_total", result="duplicate")
        for i in range(0, 40, 4):
            produce_match(st, "m40-%02d" % i, "Test.Forty", "acct-1", T0_US + i * 45 * 1000000)
        produce_match(st, "g40", "Test.Group", "d-1", T0_US, count=40, last_us=T0_US + 20 * MIN_US)
        produce_match(st, "th-1", "Test.Threshold", "u", T0_US + MIN_US, threshold=5)
        wait_until(lambda: fwd.metric("ocelot_matches_total", result="duplicate") - dup0 >= 12,
                   timeout=60, what="12 replays seen as duplicates")
        time.sleep(2)
        assert st.sql("select id, event_count, updated_at from alerts order by id") == before_alerts
        assert count(st, "select count(*) from processed_matches") == before_pm
        assert len(wh.requests) == before_hooks, wh.requests[before_hooks:]
        log("replayed 12 match ids: no change")

        # 5. A rule error with the same rule and dedup deduplicates apart.
        produce_match(st, "err-1", "Test.Group", "d-1", T0_US, is_error=1, title="rule raised")
        wait_until(lambda: count(st, "select count(*) from alerts where rule_id = 'Test.Group'") == 2,
                   timeout=60, what="rule-error alert")
        err = st.sql("select dedup_key, is_error from alerts where rule_id = 'Test.Group' and is_error")
        assert err == [("error:Test.Group:d-1", "t")], err
        wait_until(lambda: any(r["body_json"]["is_error"] for r in hooks_for(wh, "Test.Group")),
                   timeout=60, what="rule-error alert delivered")

        # 6. skip_delivery: stored, not sent.
        produce_match(st, "skip-1", "Test.Skip", "s", T0_US, skip_delivery=1)
        wait_until(lambda: count(st, "select count(*) from alerts where rule_id = 'Test.Skip'") == 1,
                   timeout=60, what="skip_delivery alert stored")
        assert st.sql("select skip_delivery from alerts where rule_id = 'Test.Skip'") == [("t",)]

        # 7. A record that does not decode: dead-lettered, the stream goes on.
        produce(st, "rule-matches", "poison", b"\xff\xff\xff\xff")
        produce_match(st, "after-poison", "Test.After", "a", T0_US)
        wait_until(lambda: len(dump(st, "rule-matches.dlq")) == 1, timeout=60, what="poison dead-lettered")
        dl = dump(st, "rule-matches.dlq")[0]
        assert dl["key"] == "poison", dl
        assert dl["headers"]["oc-error-class"] == "OC_ERR_DECODE", dl["headers"]
        assert dl["headers"]["oc-service"] == "alert-forwarder", dl["headers"]
        wait_until(lambda: hooks_for(wh, "Test.After"), timeout=60, what="alert after the poison record")

        # Every alert that should be delivered was delivered exactly once; the outbox is empty.
        time.sleep(3)
        assert count(st, "select count(*) from outbox") == 0
        delivered = [r["headers"].get("Idempotency-Key") for r in wh.requests]
        assert len(delivered) == len(set(delivered)), "repeated deliveries: %r" % delivered
        want = {r[0] for r in st.sql("select id from alerts where not skip_delivery")}
        assert set(delivered) == want, (sorted(delivered), sorted(want))
        assert dump(st, "alerts.dlq") == []
        created = fwd.metric("ocelot_alerts_created_total")
        assert created == count(st, "select count(*) from alerts"), created
        assert fwd.metric("ocelot_outbox_published_total") >= created
        assert fwd.metric("ocelot_matches_total", result="held") == 4  # th-0..th-3
        log("%d alerts, %d deliveries" % (len(want), len(delivered)))

        # 8. Inbox retention: match ids older than OCELOT_INBOX_RETENTION_HOURS are forgotten.
        st.sql("update processed_matches set processed_at = now() - interval '2 hours' where id like 'm40-%'")
        fwd.stop()
        fwd2 = st.service("alert-forwarder", env={"OCELOT_INBOX_RETENTION_HOURS": "1"})
        fwd2.wait_ready(60)
        wait_until(lambda: count(st, "select count(*) from processed_matches where id like 'm40-%'") == 0,
                   timeout=30, what="old match ids pruned")
        assert count(st, "select count(*) from processed_matches where id like 'th-%'") == 5
        assert "pruned processed match ids" in fwd2.log_text()
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
