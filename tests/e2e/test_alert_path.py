"""End to end: 1,000 CloudTrail events (gzip, Records form) with 40 root logins in one
dedup window -> exactly one alert at the webhook with the right title, severity and
count; root logins three hours later -> a second alert; a Threshold-50 rule that sees 10
events -> nothing delivered."""
import datetime as dt
import json
import sys

from e2ecommon import Pipeline, Stack, T0, WebhookReceiver, ct_events, gzip_records, log, wait_until

RULE = "Test.Console.RootLogin"


def main():
    wh = WebhookReceiver()
    with Stack("e2e-alert-path") as st:
        p = Pipeline(st, wh)
        events = ct_events(1000, {"root_login": 40, "no_mfa": 10}, start=T0, spread_minutes=30, seed=7)
        p.drop("cloudtrail/2026/11/01/batch-1.json.gz", gzip_records(events))
        wait_until(lambda: len(p.alerts_for(RULE)) >= 1, timeout=120, what="first root-login alert")

        # The whole file is processed: the processor wrote 1,000 rows.
        def rows():
            out = st.ocelot("topic", "dump", "processed-files", "--timeout-ms", "2000").stdout
            return sum(int(json.loads(l)["value"].get("row_count", 0)) for l in out.splitlines() if l.strip())
        wait_until(lambda: rows() == 1000, timeout=60, what="1000 rows in processed-files")

        later = ct_events(200, {"root_login": 5}, start=T0 + dt.timedelta(hours=3), spread_minutes=10, seed=8)
        p.drop("cloudtrail/2026/11/01/batch-2.json.gz", gzip_records(later))
        wait_until(lambda: len(p.alerts_for(RULE)) >= 2, timeout=120, what="second root-login alert")

        # Give stragglers (duplicates, the threshold rule) time to show up before judging.
        wait_until(lambda: int(st.sql("select count(*) from outbox")[0][0]) == 0, timeout=30,
                   what="outbox drained")
        import time
        time.sleep(5)

        got = p.alerts_for(RULE)
        log("root-login deliveries:", [(r["body_json"]["title"], r["body_json"]["event_count"]) for r in got])
        assert len(got) == 2, "expected exactly two root-login alerts, got %d" % len(got)
        first, second = sorted(got, key=lambda r: r["body_json"]["first_event_time"])
        b1, b2 = first["body_json"], second["body_json"]
        assert b1["title"] == "Root console login in account 123456789012", b1["title"]
        assert b1["severity"] == "HIGH", b1["severity"]
        assert b1["event_count"] == 40, b1["event_count"]
        assert b2["event_count"] == 5, b2["event_count"]
        assert b1["id"] != b2["id"]
        for r in got:
            assert r["headers"].get("Idempotency-Key") == r["body_json"]["id"], r["headers"]

        no_mfa = p.alerts_for("Test.Console.NoMFA")
        assert not no_mfa, "threshold rule below its threshold delivered %r" % no_mfa
        held = st.sql("select event_count, alert_created from alert_dedup where rule_id = 'Test.Console.NoMFA'")
        assert held == [("10", "f")], held
        alerts = st.sql("select rule_id, event_count from alerts order by first_event_time")
        assert alerts == [(RULE, "40"), (RULE, "5")], alerts
        log("ok")
    wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
