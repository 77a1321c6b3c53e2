"""alert-delivery on a real broker and Postgres, fed Alert records directly:
 - an alert without destinations goes to every enabled output, once, even when it is
   published twice, with Idempotency-Key / X-Ocelot-Alert-Id and the output's own headers;
   explicit destinations are honoured, unknown and disabled ones skipped, skip_delivery
   sends nothing;
 - a webhook answering 500: every attempt is recorded, after OCELOT_MAX_ATTEMPTS the
   alert is in alerts.dlq with the oc-* headers; after the webhook recovers
   `ocelot requeue --from alerts.dlq` delivers it exactly once, and a second requeue
   sends nothing;
 - one output failing and one succeeding: the requeue sends only to the failed one;
 - Postgres stopped: nothing is sent, nothing dead-lettered, the service reports not
   ready; after it is back the alert is delivered once."""
import pathlib
import signal  # noqa: F401
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, wait_until  # noqa: E402
from test_alerts_forwarder import alert_msg, count, dump, log, produce  # noqa: E402


def by_id(wh, alert_id):
    return [r for r in list(wh.requests) if (r["body_json"] or {}).get("id") == alert_id]


def ok_by_id(wh, alert_id):
    return [r for r in by_id(wh, alert_id) if r["status"] < 300]


def send(st, alert_id, **kw):
    produce(st, "alerts", alert_id, alert_msg(alert_id, **kw))


def main():
    with Stack("alerts-delivery", redis=False) as st:
        wh = st.webhook()
        wh2 = st.webhook()
        st.ocelot("outputs", "add", "--id", "hook", "--type", "webhook", "--name", "Main", "--url", wh.url,
                  "--timeout-ms", "3000", "--header", "X-Team: secops")
        st.ocelot("outputs", "add", "--id", "hook2", "--type", "webhook", "--name", "Second", "--url", wh2.url)
        st.ocelot("outputs", "add", "--id", "off", "--type", "webhook", "--name", "Disabled", "--url", wh.url + "/off",
                  "--disabled")
        dlv = st.service("alert-delivery", env={"OCELOT_MAX_ATTEMPTS": "3", "OCELOT_OUTPUTS_REFRESH_MS": "500"})
        dlv.wait_ready(60)

        # 1. No destinations: every enabled output; a duplicate publish is absorbed.
        send(st, "a-all", alert_context_json='{"k": "v"}')
        send(st, "a-all", alert_context_json='{"k": "v"}')
        wait_until(lambda: by_id(wh, "a-all") and by_id(wh2, "a-all"), timeout=60, what="a-all delivered")
        wait_until(lambda: dlv.metric("ocelot_deliveries_total", result="duplicate") >= 2, timeout=30,
                   what="the duplicate publish seen")
        assert len(by_id(wh, "a-all")) == 1 and len(by_id(wh2, "a-all")) == 1
        r = by_id(wh, "a-all")[0]
        assert r["path"] == "/hook", r["path"]
        assert r["headers"].get("Idempotency-Key") == "a-all", r["headers"]
        assert r["headers"].get("X-Ocelot-Alert-Id") == "a-all", r["headers"]
        assert r["headers"].get("X-Team") == "secops", r["headers"]
        assert r["headers"].get("Content-Type") == "application/json", r["headers"]
        assert r["body_json"]["context"] == {"k": "v"}, r["body_json"]
        assert r["body_json"]["created_at"] == "2026-11-01T10:01:00.000000Z", r["body_json"]
        assert "X-Team" not in by_id(wh2, "a-all")[0]["headers"]
        rows = st.sql("select output_id, attempt, success, status_code from alert_deliveries"
                      " where alert_id = 'a-all' order by output_id")
        assert rows == [("hook", "1", "t", "200"), ("hook2", "1", "t", "200")], rows
        log("a-all delivered once to both enabled outputs")

        # 2. Explicit destinations; unknown and disabled ones are skipped.
        send(st, "a-one", destinations=["hook", "nope", "off"])
        send(st, "a-none", destinations=["nope"])
        send(st, "a-skip", skip_delivery=1)
        send(st, "a-marker", destinations=["hook2"])
        wait_until(lambda: by_id(wh2, "a-marker"), timeout=60, what="a-marker delivered")
        assert len(by_id(wh, "a-one")) == 1 and not by_id(wh2, "a-one")
        assert not [r for r in wh.requests if r["path"] != "/hook"], "sent to the disabled output"
        assert not by_id(wh, "a-none") and not by_id(wh2, "a-none")
        assert not by_id(wh, "a-skip") and not by_id(wh2, "a-skip")
        assert "unknown output" in dlv.log_text()

        # 3. The webhook answers 500: retried, recorded, dead-lettered.
        wh.status = 500
        send(st, "a-500", destinations=["hook"])
        wait_until(lambda: [d for d in dump(st, "alerts.dlq") if d["key"] == "a-500"], timeout=90,
                   what="a-500 dead-lettered")
        assert len(by_id(wh, "a-500")) == 3, len(by_id(wh, "a-500"))
        rows = st.sql("select attempt, success, status_code, error from alert_deliveries"
                      " where alert_id = 'a-500' order by attempt")
        assert [r[:3] for r in rows] == [("1", "f", "500"), ("2", "f", "500"), ("3", "f", "500")], rows
        assert all(r[3].startswith("HTTP 500") for r in rows), rows
        dl = [d for d in dump(st, "alerts.dlq") if d["key"] == "a-500"][0]
        h = dl["headers"]
        assert h["oc-error-class"] == "OC_ERR_REMOTE", h
        assert h["oc-error"] == 'output "hook" answered 500', h
        assert h["oc-service"] == "alert-delivery" and h["oc-source-topic"] == "alerts", h
        assert h["oc-attempts"] == "3", h
        log("a-500: 3 attempts recorded, dead-lettered:", h["oc-error"])

        wh.status = 200
        out = st.ocelot("requeue", "--from", "alerts.dlq").stdout
        assert "requeued 1 " in out, out
        wait_until(lambda: ok_by_id(wh, "a-500"), timeout=60, what="a-500 delivered after the requeue")
        time.sleep(2)
        out = st.ocelot("requeue", "--from", "alerts.dlq").stdout
        time.sleep(3)
        assert len(ok_by_id(wh, "a-500")) == 1, by_id(wh, "a-500")
        assert count(st, "select count(*) from alert_deliveries where alert_id = 'a-500' and success") == 1
        assert st.sql("select attempt from alert_deliveries where alert_id = 'a-500' and success") == [("4",)]
        log("a-500 delivered exactly once after the requeue")

        # 4. One output fails, one succeeds: the requeue sends only to the failed one.
        wh2.status = 503
        send(st, "a-half")
        wait_until(lambda: [d for d in dump(st, "alerts.dlq") if d["key"] == "a-half"], timeout=90,
                   what="a-half dead-lettered")
        assert len(by_id(wh, "a-half")) == 1, "the healthy output got the alert more than once"
        assert len(by_id(wh2, "a-half")) == 3
        wh2.status = 200
        out = st.ocelot("requeue", "--from", "alerts.dlq").stdout
        assert "requeued 1 " in out, out
        wait_until(lambda: ok_by_id(wh2, "a-half"), timeout=60, what="a-half delivered to hook2")
        time.sleep(2)
        assert len(by_id(wh, "a-half")) == 1 and len(ok_by_id(wh2, "a-half")) == 1
        log("a-half: the requeue went to the failed output only")

        # 5. Postgres down: nothing sent, nothing dead-lettered, not ready; then delivered once.
        dlq_before = len(dump(st, "alerts.dlq"))
        st.stop_postgres()
        try:
            send(st, "a-pg", destinations=["hook"])
            wait_until(lambda: not dlv.ready(), timeout=30, what="alert-delivery not ready")
            time.sleep(3)
            assert not by_id(wh, "a-pg"), "sent while Postgres was down"
        finally:
            st.start_postgres()
        wait_until(lambda: ok_by_id(wh, "a-pg"), timeout=90, what="a-pg delivered after Postgres is back")
        wait_until(dlv.ready, timeout=30, what="alert-delivery ready again")
        time.sleep(2)
        assert len(by_id(wh, "a-pg")) == 1
        assert len(dump(st, "alerts.dlq")) == dlq_before
        assert dlv.metric("ocelot_records_dead_lettered_total") == 2  # a-500 and a-half only

        ok = count(st, "select count(*) from alert_deliveries where success")
        log("ok: %d successful deliveries recorded" % ok)
    return 0


if __name__ == "__main__":
    sys.exit(main())
