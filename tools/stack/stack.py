#!/usr/bin/env python3
"""Ocelot's local stack: stack.py demo | up | down | status

demo    Starts Postgres (data kept under state/pg), Redis, the development broker and the
        five services, registers a demo CloudTrail source and a local webhook, runs the
        bundled detections (examples/detections) over generated CloudTrail logs, prints
        the alerts that arrive, and stops everything. Exit 0 when at least one alert
        arrived.
up      The same stack in the background, plus `ocelot watch` on state/drop/ and a webhook
        receiver appending alerts to state/alerts.jsonl. Pids in state/run/, logs in
        state/logs/, environment for the CLI in state/env.sh.
down    Stops everything `up` started.
status  What is running, and each service's /readyz.

Run from anywhere after `make build` (binaries from $OCELOT_BUILD_DIR/bin, default build/bin).
"""
import argparse
import datetime as dt
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_cloudtrail  # noqa: E402
import ocstack  # noqa: E402
from ocstack import SERVICES, Postgres, Proc, Stack, WebhookReceiver, bin_path, repo_root  # noqa: E402

REPO = repo_root()
STATE = pathlib.Path(os.environ.get("OCELOT_STATE_DIR", REPO / "state")).resolve()
RUN = STATE / "run"
LOGS = STATE / "logs"
PG_DIR = STATE / "pg"
RULES_DIR = pathlib.Path(os.environ.get("OCELOT_RULES_DIR", REPO / "examples" / "detections"))
SOURCE_ID = "demo-cloudtrail"
BUCKET = "demo"
OUTPUT_ID = "demo-webhook"
STACK_JSON = RUN / "stack.json"


def say(*a):
    print(*a, flush=True)


def stamp(t0):
    return "[%5.1fs]" % (time.monotonic() - t0)


def check_binaries():
    missing = []
    for name in ["ocelot", "ocelot-devbroker"] + ["ocelot-" + s for s in SERVICES]:
        try:
            bin_path(name)
        except FileNotFoundError:
            missing.append(name)
    if missing:
        say("missing binaries in %s/bin: %s\nbuild first: make build" % (ocstack.build_dir(), ", ".join(missing)))
        sys.exit(2)


def detection_files():
    if not RULES_DIR.is_dir():
        return []
    return sorted(p for p in RULES_DIR.rglob("*") if p.suffix in (".yml", ".yaml"))


def alert_line(body):
    if not isinstance(body, dict):
        return "(not JSON)"
    return "%-8s %-60s events=%-4s rule=%s" % (
        str(body.get("severity", "?")), str(body.get("title", "?")), body.get("event_count", "?"),
        body.get("rule_id", "?"))


# ---------------------------------------------------------------------------------------
# demo


def up_is_running():
    state = load_state()
    if state:
        for name, info in state.get("procs", {}).items():
            if proc_alive(info):
                return True
    return Postgres(PG_DIR).postmaster_pid() is not None


def cmd_demo(args):
    check_binaries()
    if up_is_running():
        say("the background stack (make up) is running and owns state/pg; stop it first: make down")
        return 2
    demo_root = STATE / "demo"
    shutil.rmtree(demo_root, ignore_errors=True)
    demo_root.mkdir(parents=True)
    rules = detection_files()
    t0 = time.monotonic()
    say("Ocelot demo: state in %s" % STATE)
    if not rules:
        say("warning: no detections in %s; no alerts can fire" % RULES_DIR)

    wh = WebhookReceiver()
    try:
        with Stack("demo", root=demo_root, pg_dir=PG_DIR, fsync=True, fresh_db=True, rules_dir=RULES_DIR,
                   migrate=False) as st:
            say("%s Postgres on 127.0.0.1:%d (data in %s), Redis on 127.0.0.1:%d, broker at %s"
                % (stamp(t0), st.pg.port, st.pg.data, st.redis.port, st.broker.bootstrap))
            st.ocelot("migrate")
            st.ocelot("sources", "add", "--id", SOURCE_ID, "--label", "Demo CloudTrail", "--bucket", BUCKET,
                      "--log-type", "AWS.CloudTrail")
            st.ocelot("outputs", "add", "--id", OUTPUT_ID, "--type", "webhook", "--name", "Demo webhook",
                      "--url", wh.url, "--timeout-ms", "5000")
            say("%s registered source %s (bucket %s) and webhook output %s -> %s"
                % (stamp(t0), SOURCE_ID, BUCKET, OUTPUT_ID, wh.url))
            say("%s detections from %s: %s" % (stamp(t0), RULES_DIR, ", ".join(p.name for p in rules) or "none"))

            for name in SERVICES:
                st.service(name)
            for svc in st.services:
                svc.wait_ready(60)
                say("%s %-16s ready at %s (log %s)" % (stamp(t0), svc.name, svc.url, svc.log_path))

            start = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=60)
            scenarios = {"root_login": 3, "create_access_key": 2, "stop_logging": 1, "no_mfa": 12}
            events = gen_cloudtrail.generate(args.events, scenarios, seed=args.seed, start=start,
                                             spread_minutes=55)
            path = demo_root / "cloudtrail-demo.json.gz"
            size = gen_cloudtrail.write(path, events, form="records", gz=True)
            say("%s generated %d CloudTrail events (%s) -> %s (%d bytes gzip)"
                % (stamp(t0), len(events), ", ".join("%d %s" % (v, k) for k, v in scenarios.items()), path, size))
            st.ingest(BUCKET, path)
            say("%s ingested into bucket %s; waiting for alerts (up to %ds)" % (stamp(t0), BUCKET, args.timeout))

            got = wait_for_alerts(st, wh, t0, args.timeout, args.settle)
            say("")
            if got:
                say("Received %d alert%s at the webhook:" % (len(got), "" if len(got) == 1 else "s"))
                for r in got:
                    say("  " + alert_line(r["body_json"]))
                by_rule = {}
                for r in got:
                    b = r["body_json"] if isinstance(r["body_json"], dict) else {}
                    by_rule.setdefault(b.get("rule_id", "?"), []).append(b)
                events_total = sum(int(b.get("event_count") or 0) for v in by_rule.values() for b in v)
                say("Summary: %d events ingested, %d alerts from %d rule%s covering %d matched events, %.0fs end to end."
                    % (len(events), len(got), len(by_rule), "" if len(by_rule) == 1 else "s", events_total,
                       time.monotonic() - t0))
                say("Service logs: %s   lake: %s" % (st.logs, demo_root / "lake"))
                say("Stopping the stack.")
                return 0
            say("No alert arrived within %ds. Tails of the service logs follow." % args.timeout)
            st.failed = True  # Stack.close prints each service's last lines
            return 1
    finally:
        wh.close()


def pipeline_progress(st):
    parts = []
    for svc in st.services:
        try:
            n = svc.metric("ocelot_records_in_total")
            parts.append("%s in=%d" % (svc.name, n))
        except Exception:  # noqa: BLE001 - progress only
            parts.append("%s ?" % svc.name)
    return ", ".join(parts)


def wait_for_alerts(st, wh, t0, timeout, settle):
    """Prints alerts as they arrive; returns them once none came for `settle` seconds
    after the first one (or at the timeout)."""
    begin = time.monotonic()
    shown = 0
    last_new = None
    last_progress = begin
    while True:
        reqs = [r for r in list(wh.requests) if r.get("status", 200) < 300]
        while shown < len(reqs):
            say("%s alert: %s" % (stamp(t0), alert_line(reqs[shown]["body_json"])))
            shown += 1
            last_new = time.monotonic()
        now = time.monotonic()
        if last_new is not None and now - last_new >= settle:
            return reqs
        if now - begin >= timeout:
            return reqs
        for svc in st.services:
            if not svc.running():
                say("%s %s exited with code %s" % (stamp(t0), svc.name, svc.returncode))
                return reqs
        if now - last_progress >= 5:
            last_progress = now
            say("%s %d alert%s so far; %s" % (stamp(t0), shown, "" if shown == 1 else "s", pipeline_progress(st)))
        time.sleep(0.3)


# ---------------------------------------------------------------------------------------
# up / down / status


def load_state():
    try:
        return json.loads(STACK_JSON.read_text())
    except (OSError, ValueError):
        return None


def save_state(state):
    RUN.mkdir(parents=True, exist_ok=True)
    tmp = STACK_JSON.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, STACK_JSON)


def proc_alive(info):
    """info: {"pid", "match"}; true when pid runs and its command line contains match
    (so a recycled pid is never mistaken for ours)."""
    pid = info.get("pid")
    if not pid:
        return False
    try:
        raw = pathlib.Path("/proc/%d/cmdline" % pid).read_bytes()
        stat = pathlib.Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return info.get("match", "").encode() in raw


def port_from_state(state, key):
    """The port used last time, when still free (so URLs stay stable across up/down)."""
    port = (state or {}).get("ports", {}).get(key)
    if port and not ocstack.tcp_open("127.0.0.1", port):
        return port
    return ocstack.free_port()


def spawn(name, argv, env, match, state):
    p = Proc(name, argv, env=env, log_path=LOGS / ("%s.log" % name), cwd=STATE)
    p.start()
    (RUN / ("%s.pid" % name)).write_text("%d\n" % p.pid)
    state["procs"][name] = {"pid": p.pid, "match": match}
    save_state(state)
    return p


def wait_http(url, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        if not proc.running():
            return False
        time.sleep(0.2)
    return False


def cmd_up(args):
    check_binaries()
    old = load_state()
    if old and any(proc_alive(i) for i in old.get("procs", {}).values()):
        say("the stack is already up (make status / make down)")
        return cmd_status(args)
    for d in (RUN, LOGS, STATE / "objects", STATE / "lake", STATE / "drop"):
        d.mkdir(parents=True, exist_ok=True)
    for f in RUN.glob("*.pid"):
        f.unlink()
    state = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "procs": {}, "ports": {}, "services": {}}
    try:
        return _up(args, old, state)
    except BaseException as e:
        say("up failed: %s\nstopping what was started" % (e if str(e) else type(e).__name__))
        save_state(state)
        cmd_down(args)
        if isinstance(e, Exception):
            return 1
        raise


def _up(args, old, state):
    pg = Postgres(PG_DIR, port=port_from_state(old, "postgres"), fsync=True)
    pg.start()
    pg.ensure_db()
    state["ports"]["postgres"] = pg.port
    state["postgres"] = {"base": str(pg.base)}
    save_state(state)
    say("postgres   127.0.0.1:%d  (data %s)" % (pg.port, pg.data))

    redis_port = port_from_state(old, "redis")
    redis = spawn("redis", ["redis-server", "--port", redis_port, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--daemonize", "no", "--dir", RUN],
                  os.environ, "redis-server", state)
    state["ports"]["redis"] = redis_port
    deadline = time.monotonic() + 30
    while not redis_ping(redis_port):
        if time.monotonic() > deadline or not redis.running():
            raise RuntimeError("redis did not start; log: %s" % (LOGS / "redis.log"))
        time.sleep(0.1)
    say("redis      127.0.0.1:%d" % redis_port)

    port_file = RUN / "broker.addr"
    if port_file.exists():
        port_file.unlink()
    broker = spawn("devbroker", [bin_path("ocelot-devbroker"), "--port-file", port_file], os.environ,
                   "ocelot-devbroker", state)
    deadline = time.monotonic() + 30
    brokers = None
    while not brokers:
        brokers = ocstack.read_broker_file(port_file)
        if not brokers and (time.monotonic() > deadline or not broker.running()):
            raise RuntimeError("the development broker did not start; log: %s" % (LOGS / "devbroker.log"))
        time.sleep(0.05)
    state["brokers"] = brokers
    say("broker     %s (in memory)" % brokers)

    env = ocstack.stack_env(STATE, pg_dsn=pg.dsn, redis_url="redis://127.0.0.1:%d/0" % redis_port,
                            brokers=brokers, rules_dir=RULES_DIR)
    write_env_sh(env)
    ocelot = str(bin_path("ocelot"))

    def cli(*a, check=True):
        p = subprocess.run([ocelot] + [str(x) for x in a], env=env, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise ocstack.OcelotError(p.returncode, ["ocelot"] + list(a), p.stdout, p.stderr)
        return p

    cli("migrate")

    # The webhook receiver: a process of its own appending to state/alerts.jsonl.
    recv_port = port_from_state(old, "receiver")
    recv = spawn("receiver", [sys.executable, os.path.abspath(__file__), "_receiver", "--port", recv_port,
                              "--out", STATE / "alerts.jsonl"], os.environ, "_receiver", state)
    state["ports"]["receiver"] = recv_port
    if not wait_http("http://127.0.0.1:%d/" % recv_port, 20, recv):
        raise RuntimeError("the webhook receiver did not start; log: %s" % (LOGS / "receiver.log"))
    hook_url = "http://127.0.0.1:%d/hook" % recv_port

    if not ocstack.psql(pg.dsn, "select 1 from sources where id = '%s'" % SOURCE_ID):
        cli("sources", "add", "--id", SOURCE_ID, "--label", "Demo CloudTrail", "--bucket", BUCKET,
            "--log-type", "AWS.CloudTrail")
    if ocstack.psql(pg.dsn, "select 1 from outputs where id = '%s'" % OUTPUT_ID):
        ocstack.psql(pg.dsn, "update outputs set config = jsonb_set(config, '{url}', to_jsonb('%s'::text)) "
                             "where id = '%s'" % (hook_url, OUTPUT_ID))
    else:
        cli("outputs", "add", "--id", OUTPUT_ID, "--type", "webhook", "--name", "Demo webhook", "--url", hook_url,
            "--timeout-ms", "5000")

    procs = {}
    for name in SERVICES:
        port = port_from_state(old, name)
        senv = dict(env, OCELOT_HTTP_ADDR="127.0.0.1", OCELOT_HTTP_PORT=str(port))
        procs[name] = spawn(name, [bin_path("ocelot-" + name)], senv, "ocelot-" + name, state)
        state["ports"][name] = port
        state["services"][name] = "http://127.0.0.1:%d" % port
        save_state(state)
    for name, p in procs.items():
        if not wait_http(state["services"][name] + "/readyz", 60, p):
            raise RuntimeError("%s did not become ready; log tail:\n%s" % (name, p.log_tail(30)))
        say("%-16s %s  ready" % (name, state["services"][name]))

    spawn("watch", [ocelot, "watch", "--dir", STATE / "drop", "--bucket", BUCKET], env, "watch", state)
    time.sleep(0.5)
    if not proc_alive(state["procs"]["watch"]):
        raise RuntimeError("ocelot watch exited; log: %s" % (LOGS / "watch.log"))

    def rel(p):
        p = pathlib.Path(p).resolve()
        cwd = pathlib.Path.cwd().resolve()
        return str(p.relative_to(cwd)) if cwd in p.parents else str(p)

    say("")
    say("Ocelot is up (detections from %s)." % RULES_DIR)
    say("  Drop CloudTrail files (JSON lines or {\"Records\":[...]}, .gz or plain) into  %s/" % rel(STATE / "drop"))
    say("  Alerts are appended to                                                   %s" % rel(STATE / "alerts.jsonl"))
    say("  Sample: python3 %s -n 1000 --root-logins 2 --start now-30m -o %s && mv %s %s/"
        % (rel(REPO / "tools/stack/gen_cloudtrail.py"), rel(STATE / "sample.json.gz"),
           rel(STATE / "sample.json.gz"), rel(STATE / "drop")))
    say("  CLI against this stack: . %s && %s sources list" % (rel(STATE / "env.sh"), rel(bin_path("ocelot"))))
    say("  Logs in %s/, status: make status, stop: make down" % rel(LOGS))
    return 0


def redis_ping(port):
    try:
        return ocstack.redis_command("127.0.0.1", port, "PING") == "+PONG"
    except OSError:
        return False


def write_env_sh(env):
    keys = sorted(k for k in env if k.startswith("OCELOT_") and k not in ("OCELOT_BUILD_DIR", "OCELOT_SOURCE_DIR", "OCELOT_STATE_DIR"))
    lines = ["# Environment of the stack started by `make up` (source it to use the ocelot CLI)."]
    for k in keys:
        lines.append("export %s='%s'" % (k, env[k].replace("'", "'\\''")))
    (STATE / "env.sh").write_text("\n".join(lines) + "\n")


def stop_pid(name, info, timeout=20):
    if not proc_alive(info):
        return False
    pid = info["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while proc_alive(info) and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc_alive(info):
        say("%s did not stop within %ds; killing it" % (name, timeout))
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


def cmd_down(args):
    state = load_state() or {"procs": {}}
    procs = dict(state.get("procs", {}))
    # Pid files without a stack.json entry (an interrupted `up`): match by name.
    for f in RUN.glob("*.pid") if RUN.exists() else []:
        name = f.stem
        if name not in procs:
            try:
                procs[name] = {"pid": int(f.read_text().strip()), "match": _default_match(name)}
            except ValueError:
                pass
    order = ["watch"] + list(SERVICES) + ["receiver", "devbroker", "redis"]
    order += [n for n in procs if n not in order]
    # Services first (all at once: they finish their batches in parallel).
    signalled = set()
    for name in order:
        info = procs.get(name)
        if info and proc_alive(info) and name in SERVICES:
            try:
                os.killpg(info["pid"], signal.SIGTERM)
                signalled.add(name)
            except (ProcessLookupError, PermissionError):
                pass
    for name in order:
        info = procs.get(name)
        if info and (stop_pid(name, info) or name in signalled):
            say("stopped %s (pid %d)" % (name, info["pid"]))
        pid_file = RUN / ("%s.pid" % name)
        if pid_file.exists():
            pid_file.unlink()
    pg = Postgres(PG_DIR)
    if pg.postmaster_pid():
        pg.stop()
        say("stopped postgres")
    if STACK_JSON.exists():
        STACK_JSON.unlink()
    say("the stack is down")
    return 0


def _default_match(name):
    if name == "redis":
        return "redis-server"
    if name == "devbroker":
        return "ocelot-devbroker"
    if name == "receiver":
        return "_receiver"
    if name == "watch":
        return "watch"
    return "ocelot-" + name


def cmd_status(args):
    state = load_state()
    ok = True
    pg = Postgres(PG_DIR)
    pid = pg.postmaster_pid()
    port = (state or {}).get("ports", {}).get("postgres")
    say("%-16s %s" % ("postgres", "running (pid %d, 127.0.0.1:%s)" % (pid, port) if pid else "stopped"))
    ok = ok and bool(pid)
    if not state:
        say("the background stack is not up (make up)")
        return 1
    for name in ["redis", "devbroker", "receiver"] + list(SERVICES) + ["watch"]:
        info = state.get("procs", {}).get(name)
        if not info:
            say("%-16s not started" % name)
            ok = False
            continue
        alive = proc_alive(info)
        line = "%-16s %s" % (name, "running (pid %d)" % info["pid"] if alive else "stopped")
        ok = ok and alive
        url = state.get("services", {}).get(name)
        if url and alive:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    line += "  %s/readyz: %d %s" % (url, r.status, r.read().decode(errors="replace").strip()[:80])
            except urllib.error.HTTPError as e:
                line += "  %s/readyz: %d %s" % (url, e.code, e.read().decode(errors="replace").strip()[:80])
                ok = False
            except OSError as e:
                line += "  %s/readyz: %s" % (url, e)
                ok = False
        say(line)
    alerts = STATE / "alerts.jsonl"
    n = sum(1 for _ in open(alerts)) if alerts.exists() else 0
    say("%-16s %d in %s" % ("alerts", n, alerts))
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------
# The webhook receiver process of `up`


def cmd_receiver(args):
    out_path = pathlib.Path(args.out)
    out = open(out_path, "a", buffering=1)

    def record(req):
        line = {"received_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "path": req["path"], "headers": dict(req["headers"]), "alert": req["body_json"]}
        out.write(json.dumps(line, sort_keys=True) + "\n")
        out.flush()
        print("alert: %s" % alert_line(req["body_json"]), flush=True)

    wh = WebhookReceiver(port=args.port)
    wh.on_request = record
    print("webhook receiver listening at %s, appending to %s" % (wh.url, out_path), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stop.append(s))
    while not stop:
        time.sleep(0.2)
    wh.close()
    out.close()
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the whole stack once over sample CloudTrail logs")
    d.add_argument("--events", type=int, default=2000, help="CloudTrail events to generate (default 2000)")
    d.add_argument("--seed", type=int, default=2026)
    d.add_argument("--timeout", type=int, default=90, help="seconds to wait for alerts (default 90)")
    d.add_argument("--settle", type=float, default=10, help="stop this long after the last new alert")
    sub.add_parser("up", help="start the stack in the background")
    sub.add_parser("down", help="stop the background stack")
    sub.add_parser("status", help="show the background stack")
    r = sub.add_parser("_receiver")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    fn = {"demo": cmd_demo, "up": cmd_up, "down": cmd_down, "status": cmd_status, "_receiver": cmd_receiver}
    try:
        return fn[args.cmd](args)
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
