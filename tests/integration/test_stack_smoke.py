"""The stack library itself (tools/stack/ocstack.py): a Stack starts Postgres, Redis and
the development broker and leaves nothing behind; the webhook receiver records requests
and answers what it is told; Postgres keeps its data across stop_postgres/start_postgres;
a failing block keeps its temp dir for inspection and still stops everything; a test
process killed with SIGKILL leaves nothing running."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
import ocstack  # noqa: E402
from ocstack import Stack, WebhookReceiver, wait_until  # noqa: E402


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, flush=True)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def redis_ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64)


def psql(dsn, sql):
    p = subprocess.run(["psql", "-X", "-At", "-d", dsn, "-c", sql], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def postmaster_pid(st):
    return int((st.pg.data / "postmaster.pid").read_text().split("\n", 1)[0])


def test_stack_up_and_gone():
    with Stack("smoke") as st:
        tmp = st.tmp
        env = st.env
        for k in ("OCELOT_PG_DSN", "OCELOT_REDIS_URL", "OCELOT_KAFKA_BROKERS", "OCELOT_OBJECT_ROOT",
                  "OCELOT_LAKE_ROOT", "OCELOT_RULES_DIR", "OCELOT_KAFKA_MAX_POLL_INTERVAL_MS"):
            assert env.get(k), "st.env lacks %s" % k
        dsn = env["OCELOT_PG_DSN"]
        assert dsn.startswith("postgresql://ocelot@127.0.0.1:") and dsn.endswith("/ocelot"), dsn

        rc, out, err = psql(dsn, "select 1")
        assert (rc, out) == (0, "1"), (rc, out, err)
        assert psql(dsn, "select current_user, current_database()")[1] == "ocelot|ocelot"
        assert st.sql("select 1, null, 'a|b', true") == [("1", "", "a|b", "t")]
        # `ocelot migrate` ran: the core schema is there.
        assert st.sql("select count(*) from sources") == [("0",)]

        redis_port = int(env["OCELOT_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        assert redis_ping(redis_port) == b"+PONG\r\n"

        host, port = env["OCELOT_KAFKA_BROKERS"].rsplit(":", 1)
        assert host == "127.0.0.1", host
        broker_port = int(port)
        assert port_open(broker_port), "broker port %d closed" % broker_port

        pg_port = st.pg.port
        pids = {"postgres": postmaster_pid(st), "redis": st.redis.pid, "devbroker": st.broker.pid}
        for name, pid in pids.items():
            assert alive(pid), "%s (pid %d) not running" % (name, pid)

        p = st.put_object("bkt", "a/b/c.json", b'{"x":1}\n')
        assert p == (tmp / "objects" / "bkt" / "a" / "b" / "c.json").resolve() and p.read_bytes() == b'{"x":1}\n'
        try:
            st.put_object("bkt", "../../etc/x", b"no")
            raise AssertionError("put_object accepted a key escaping the object root")
        except ValueError:
            pass

    assert not tmp.exists(), "temp dir %s left behind" % tmp
    for name, pid in pids.items():
        assert not alive(pid), "%s (pid %d) still running after the stack closed" % (name, pid)
    for port in (pg_port, redis_port, broker_port):
        assert not port_open(port), "port %d still open after the stack closed" % port
    log("stack up and gone: ok")


def test_webhook_receiver():
    wh = WebhookReceiver()
    try:
        def post(body, headers=None):
            req = urllib.request.Request(wh.url, data=json.dumps(body).encode(), method="POST",
                                         headers=dict({"Content-Type": "application/json"}, **(headers or {})))
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        assert wh.url.startswith("http://127.0.0.1:")
        assert post({"id": "a1", "title": "t"}, {"Idempotency-Key": "a1"}) == 200
        assert len(wh.requests) == 1
        r = wh.requests[0]
        assert r["body_json"] == {"id": "a1", "title": "t"}, r
        assert r["headers"].get("Idempotency-Key") == "a1" and r["headers"].get("idempotency-key") == "a1"
        assert r["status"] == 200 and r["path"] == "/hook" and r["time"] > 0

        wh.status = 500
        assert post({"id": "a2"}) == 500
        assert [q["status"] for q in wh.requests] == [200, 500]
        wh.status = 200
        wh.delay = 0.4
        t0 = time.monotonic()
        assert post({"id": "a3"}) == 200
        assert time.monotonic() - t0 >= 0.4, "delay not honoured"
        assert [q["body_json"]["id"] for q in wh.requests] == ["a1", "a2", "a3"]
    finally:
        wh.close()
    log("webhook receiver: ok")


def test_postgres_restart_keeps_data():
    with Stack("smoke-pg", redis=False, broker=False, migrate=False) as st:
        dsn = st.env["OCELOT_PG_DSN"]
        st.sql("create table t (v text)")
        st.sql("insert into t values ('kept')")
        old_pid = postmaster_pid(st)
        st.stop_postgres()
        assert not port_open(st.pg.port), "Postgres still listening after stop_postgres"
        assert psql(dsn, "select 1")[0] != 0
        assert not alive(old_pid)
        st.start_postgres()
        assert st.env["OCELOT_PG_DSN"] == dsn, "start_postgres changed the DSN"
        assert st.sql("select v from t") == [("kept",)]
        assert postmaster_pid(st) != old_pid
    log("postgres stop/start keeps data: ok")


def test_failure_keeps_tmp_and_stops():
    tmp = pids = None
    try:
        with Stack("smoke-fail", broker=False, migrate=False) as st:
            tmp = st.tmp
            pids = [postmaster_pid(st), st.redis.pid]
            raise KeyError("boom")
    except KeyError:
        pass
    assert tmp is not None and tmp.exists(), "a failed run's temp dir should be kept"
    for pid in pids:
        assert not alive(pid), "pid %d still running after a failed block" % pid
    import shutil
    shutil.rmtree(tmp)
    log("failed block keeps temp dir and stops processes: ok")


def test_kill9_leaves_nothing():
    """A test process killed with SIGKILL cannot clean up; the guardian stops its
    Postgres (not our child: pg_ctl daemonizes it), Redis and broker."""
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from ocstack import Stack\n"
            "st = Stack('smoke-kill9', migrate=False).__enter__()\n"
            "pm = int((st.pg.data / 'postmaster.pid').read_text().split()[0])\n"
            "print(st.tmp, pm, st.redis.pid, st.broker.pid, flush=True)\n"
            "time.sleep(120)\n" % str(pathlib.Path(ocstack.__file__).parent))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    assert len(line) == 4, "child did not start its stack: %r" % line
    tmp, pids = pathlib.Path(line[0]), [int(x) for x in line[1:]]
    for pid in pids:
        assert alive(pid), pid
    p.kill()
    p.wait()
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=30,
               what="postgres, redis and broker of a SIGKILLed test to stop")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    log("kill -9 of the test process leaves nothing running: ok")


def test_helpers():
    m = ocstack.parse_metrics(
        "# HELP x\n# TYPE ocelot_records_in_total counter\n"
        'ocelot_records_in_total{topic="a",service="s"} 3\n'
        'ocelot_records_in_total{topic="b",service="s"} 4.5\n'
        "ocelot_ready 1\n"
        'weird{l="x}\\"y"} 2\n')
    assert m[("ocelot_records_in_total", 'topic="a",service="s"')] == 3.0, m
    assert m[("ocelot_ready", "")] == 1.0, m
    assert m[("weird", 'l="x}\\"y"')] == 2.0, m
    assert ocstack.parse_labels('l="x}\\"y",b="2"') == {"l": 'x}"y', "b": "2"}
    assert wait_until(lambda: 42, timeout=1) == 42
    try:
        wait_until(lambda: False, timeout=0.3, what="the impossible")
        raise RuntimeError("wait_until did not time out")
    except AssertionError as e:
        assert "the impossible" in str(e), e
    log("helpers: ok")


def main():
    os.environ.pop("OCELOT_KEEP_TMP", None)
    test_helpers()
    test_webhook_receiver()
    test_stack_up_and_gone()
    test_postgres_restart_keeps_data()
    test_failure_keeps_tmp_and_stops()
    test_kill9_leaves_nothing()
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
