"""ocstack: start and stop a local Ocelot stack for tests, the demo and `make up`.

    from ocstack import Stack, WebhookReceiver, wait_until
    with Stack("mytest") as st:
        st.ocelot("sources", "add", ...)
        svc = st.service("log-router")
        svc.wait_ready(60)

A Stack starts Postgres (Debian's binaries, its own data directory, run as the postgres
user when we are root), Redis and the development broker (build/bin/ocelot-devbroker) on
127.0.0.1 at free ports, runs `ocelot migrate`, and offers services, the CLI, SQL and the
object store on top. Everything it started is stopped when the `with` block ends, also on
an exception, SIGTERM or SIGINT; if the test process itself is killed, a small guardian
process stops what is left. The temporary directory is removed unless the block failed or
OCELOT_KEEP_TMP=1 (its path is printed then).

Python 3 standard library only.
"""
import atexit
import gzip
import http.server
import json
import os
import pathlib
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

__all__ = ["Stack", "Service", "Postgres", "Redis", "Broker", "Proc", "WebhookReceiver",
           "wait_until", "free_port", "repo_root", "build_dir", "bin_path", "parse_metrics",
           "OcelotError", "SERVICES", "stack_env", "psql"]

SERVICES = ("log-router", "log-processor", "rules-engine", "alert-forwarder", "alert-delivery")

PG_BIN = pathlib.Path(os.environ.get("OCELOT_PG_BIN", "/usr/lib/postgresql/15/bin"))

# Settings that make the stack react in seconds rather than minutes (see DESIGN.md on the
# development broker and regex subscriptions). The caller's environment wins for these.
FAST_ENV = {
    "OCELOT_LOG_LEVEL": "info",
    "OCELOT_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS": "1000",
    "OCELOT_KAFKA_MAX_POLL_INTERVAL_MS": "15000",
    "OCELOT_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "OCELOT_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "OCELOT_BATCH_WAIT_MS": "100",
    "OCELOT_RETRY_BACKOFF_MS": "100",
    "OCELOT_RETRY_BACKOFF_MAX_MS": "2000",
}


def repo_root():
    """The project root: $OCELOT_SOURCE_DIR, else two levels above this file."""
    env = os.environ.get("OCELOT_SOURCE_DIR")
    if env:
        return pathlib.Path(env).resolve()
    return pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    env = os.environ.get("OCELOT_BUILD_DIR")
    if env:
        return pathlib.Path(env).resolve()
    return repo_root() / "build"


def bin_path(name):
    """Path of an Ocelot executable; raises FileNotFoundError with a hint when missing."""
    p = build_dir() / "bin" / name
    if not p.exists():
        raise FileNotFoundError("%s not found (build first: make build, or set OCELOT_BUILD_DIR)" % p)
    return p


def _log(msg):
    print("[ocstack %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class OcelotError(subprocess.CalledProcessError):
    """A command failed; str() includes its output."""

    def __str__(self):
        out = (self.stdout or "").strip()
        err = (self.stderr or "").strip()
        s = "command %s exited with code %s" % (" ".join(str(a) for a in self.cmd), self.returncode)
        if out:
            s += "\n--- stdout ---\n" + out[-4000:]
        if err:
            s += "\n--- stderr ---\n" + err[-4000:]
        return s


# ---------------------------------------------------------------------------------------
# Small helpers


def wait_until(cond, timeout=60, what="condition", interval=0.2):
    """Calls cond() until it returns something truthy and returns that. An exception from
    cond() counts as "not yet" (a service still starting, Postgres restarting); on timeout
    AssertionError names `what` and the last exception seen."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last_exc = None
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %gs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %s: %s)" % (type(last_exc).__name__, last_exc)
            raise AssertionError(msg)
        time.sleep(interval)


_ports_given = set()
_ports_lock = threading.Lock()


def _ephemeral_range():
    try:
        lo, hi = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A TCP port on 127.0.0.1 that is free now. Picked at random below the kernel's
    ephemeral range, so outgoing connections cannot take it before the server binds it,
    and never the same one twice in this process."""
    lo_eph, hi_eph = _ephemeral_range()
    if lo_eph > 12000:
        lo, hi = 10000, lo_eph - 1
    else:
        lo, hi = hi_eph + 1, 65000
    rng = random.Random()
    for _ in range(500):
        port = rng.randint(lo, hi)
        with _ports_lock:
            if port in _ports_given:
                continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        with _ports_lock:
            _ports_given.add(port)
        return port
    # Fall back to whatever the kernel hands out.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_command(host, port, *args, timeout=2.0):
    """Sends one command in RESP and returns the first reply line (str)."""
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace").strip()


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError as e:
        return "(could not read %s: %s)" % (path, e)
    return "\n".join(data.splitlines()[-lines:])


def parse_metrics(text):
    """Prometheus text format -> {(name, labels_text): float}; labels_text is what was
    between the braces ('' when none)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            labels, value = _split_labels(rest)
        else:
            parts = line.split()
            if len(parts) < 2:
                continue
            name, labels, value = parts[0], "", parts[1]
        try:
            v = float(value.split()[0])
        except (ValueError, IndexError):
            continue
        key = (name.strip(), labels)
        out[key] = out.get(key, 0.0) + v
    return out


def _split_labels(rest):
    """'a="x",b="y\\"z"} 12' -> ('a="x",b="y\\"z"', '12')."""
    i, in_q = 0, False
    while i < len(rest):
        c = rest[i]
        if in_q and c == "\\":
            i += 2
            continue
        if c == '"':
            in_q = not in_q
        elif c == "}" and not in_q:
            return rest[:i], rest[i + 1:].strip()
        i += 1
    return rest, ""


def parse_labels(text):
    """'a="x",b="y"' -> {'a': 'x', 'b': 'y'} (Prometheus escapes undone)."""
    out = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip()
        i = eq + 1
        while i < n and text[i] == " ":
            i += 1
        if i >= n or text[i] != '"':
            break
        i += 1
        val = []
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n:
                nxt = text[i + 1]
                val.append("\n" if nxt == "n" else nxt)
                i += 2
                continue
            val.append(text[i])
            i += 1
        i += 1
        out[key] = "".join(val)
    return out


# ---------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child process in its own session (so its whole process group can be signalled),
    stdout and stderr appended to one log file."""

    def __init__(self, name, argv, env=None, log_path=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.env = dict(env if env is not None else os.environ)
        self.log_path = pathlib.Path(log_path) if log_path else None
        self.cwd = str(cwd) if cwd else None
        self.popen = None
        self.on_change = None  # called after start/stop (the Stack's guardian bookkeeping)

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        if self.running():
            raise RuntimeError("%s is already running (pid %d)" % (self.name, self.pid))
        out = subprocess.DEVNULL
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")
            out.write(("--- %s: starting %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"),
                                                   " ".join(self.argv))).encode())
            out.flush()
        try:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        if self.on_change:
            self.on_change()
        return self

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll() if self.popen else None

    def kill(self, sig=signal.SIGKILL):
        """Sends sig to the process group; for SIGKILL, waits until the process is gone."""
        if not self.running():
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            self.popen.wait()
            if self.on_change:
                self.on_change()

    def stop(self, timeout=20):
        """SIGTERM, wait up to timeout, then SIGKILL the group. Returns the exit code
        (negative: killed by that signal)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _log("%s did not stop within %gs after SIGTERM; killing it" % (self.name, timeout))
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait()
        # Anything left in the group (helpers the process started) goes too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.on_change:
            self.on_change()
        return self.popen.returncode

    def log_text(self):
        if not self.log_path:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return tail(self.log_path, lines) if self.log_path else ""


class Service(Proc):
    """One Ocelot service (bin/ocelot-<name>) with its own HTTP port."""

    def __init__(self, name, env, log_path, cwd=None, port=None, args=()):
        self.port = port or free_port()
        env = dict(env)
        env["OCELOT_HTTP_ADDR"] = "127.0.0.1"
        env["OCELOT_HTTP_PORT"] = str(self.port)
        super().__init__(name, [bin_path("ocelot-" + name)] + list(args), env=env,
                         log_path=log_path, cwd=cwd)
        self.url = "http://127.0.0.1:%d" % self.port

    def __repr__(self):
        return "<Service %s pid=%s %s>" % (self.name, self.pid, self.url)

    def get(self, path, timeout=3):
        """(status, body text) of GET url+path; HTTP errors are returned, not raised."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def ready(self):
        try:
            return self.get("/readyz", timeout=2)[0] == 200
        except (OSError, urllib.error.URLError):
            return False

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise RuntimeError("%s exited with code %s before it was ready; log tail:\n%s"
                                   % (self.name, self.returncode, self.log_tail(60)))
            if self.ready():
                return self
            if time.monotonic() >= deadline:
                raise AssertionError("%s not ready after %gs (%s/readyz); log tail:\n%s"
                                     % (self.name, timeout, self.url, self.log_tail(60)))
            time.sleep(0.2)

    def metrics(self):
        status, body = self.get("/metrics", timeout=5)
        if status != 200:
            raise RuntimeError("%s/metrics answered %d" % (self.url, status))
        return parse_metrics(body)

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include all of `labels` (0.0 when
        there are none)."""
        want = {k: str(v) for k, v in labels.items()}
        total = 0.0
        for (n, ltext), v in self.metrics().items():
            if n != name:
                continue
            if want:
                have = parse_labels(ltext)
                if any(have.get(k) != v2 for k, v2 in want.items()):
                    continue
            total += v
        return total

    def restart(self, timeout=20):
        """Stops the service if it runs (SIGTERM) and starts it again on the same port."""
        self.stop(timeout)
        return self.start()


# ---------------------------------------------------------------------------------------
# Postgres


def _runas_postgres():
    """True when we are root and must run Postgres binaries as the postgres user."""
    return os.geteuid() == 0


def _pg_owner():
    if not _runas_postgres():
        return None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root but there is no postgres user (apt-get install postgresql)")
    return pw.pw_uid, pw.pw_gid


class Postgres:
    """A Postgres cluster in `base` (base/data, socket directory base/run, log base/postgres.log)
    on 127.0.0.1:port, with role and database `ocelot`. Run as the postgres user via
    runuser when we are root. The postmaster is not our child (pg_ctl starts it), so it
    must be stopped with stop()."""

    def __init__(self, base, port=None, fsync=True):
        self.base = pathlib.Path(base).resolve()
        self.data = self.base / "data"
        self.sockdir = self.base / "run"
        self.log_path = self.base / "postgres.log"
        self.port = port or free_port()
        self.fsync = fsync
        self.running_flag = False

    @property
    def dsn(self):
        return "postgresql://ocelot@127.0.0.1:%d/ocelot" % self.port

    def _cmd(self, argv):
        argv = [str(a) for a in argv]
        if _runas_postgres():
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _run(self, argv, check=True, timeout=120, new_session=False):
        p = subprocess.run(self._cmd(argv), cwd=str(self.base), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, start_new_session=new_session)
        if check and p.returncode != 0:
            raise OcelotError(p.returncode, argv, p.stdout, p.stderr)
        return p

    def _prepare_dirs(self):
        owner = _pg_owner()
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if owner:
            # The postgres user must reach base through every parent directory.
            for d in [self.base] + list(self.base.parents):
                try:
                    st = d.stat()
                except OSError:
                    continue
                if d == self.base or st.st_mode & 0o001:
                    continue
                raise RuntimeError("the postgres user cannot reach %s: %s is not searchable by others"
                                   % (self.base, d))
            for d in (self.base, self.sockdir):
                os.chown(d, *owner)
            if self.data.exists():
                os.chown(self.data, *owner)
        os.chmod(self.base, 0o755)
        os.chmod(self.sockdir, 0o755)

    def initialized(self):
        return (self.data / "PG_VERSION").exists()

    def init(self):
        """initdb when the data directory is empty; (re)writes our settings every time."""
        self._prepare_dirs()
        if not self.initialized():
            argv = [PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C"]
            if not self.fsync:
                argv.append("--no-sync")
            self._run(argv, timeout=300)
            conf = self.data / "postgresql.conf"
            with open(conf, "a") as f:
                f.write("\n# Ocelot's local stack\ninclude_if_exists = 'ocelot.conf'\n")
            (self.data / "pg_hba.conf").write_text(
                "# Ocelot's local stack: loopback only, trust.\n"
                "local all all trust\n"
                "host  all all 127.0.0.1/32 trust\n")
        lines = [
            "listen_addresses = '127.0.0.1'",
            "port = %d" % self.port,
            "unix_socket_directories = '%s'" % self.sockdir,
            "max_connections = 200",
            "logging_collector = off",
            "log_min_messages = warning",
        ]
        if not self.fsync:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        inc = self.data / "ocelot.conf"
        inc.write_text("# Written by tools/stack/ocstack.py at every start.\n" + "\n".join(lines) + "\n")
        owner = _pg_owner()
        if owner:
            os.chown(inc, *owner)
            os.chown(self.data / "pg_hba.conf", *owner)
        return self

    def postmaster_pid(self):
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def is_running(self):
        if not self.initialized():
            return False
        p = self._run([PG_BIN / "pg_ctl", "-D", self.data, "status"], check=False, timeout=30)
        return p.returncode == 0

    def start(self, timeout=60):
        self.init()
        # pg_ctl in a session of its own: the postmaster must not get the terminal's SIGINT.
        p = self._run([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log_path, "-w", "-t", str(timeout),
                       "-s", "start"], check=False, timeout=timeout + 30, new_session=True)
        if p.returncode != 0:
            raise RuntimeError("could not start Postgres on port %d: %s%s\nlog tail:\n%s"
                               % (self.port, p.stdout, p.stderr, tail(self.log_path, 30)))
        self.running_flag = True
        return self

    def stop(self, mode="fast", timeout=60):
        if not self.initialized():
            return
        p = self._run([PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", str(timeout), "-s", "stop"],
                      check=False, timeout=timeout + 30)
        if p.returncode != 0 and self.postmaster_pid():
            _log("pg_ctl stop -m %s failed (%s); stopping immediately" % (mode, (p.stderr or p.stdout).strip()))
            self._run([PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-s", "stop"],
                      check=False, timeout=60)
            pid = self.postmaster_pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
        self.running_flag = False

    def admin_sql(self, sql, db="postgres"):
        """Runs SQL as the postgres superuser over the unix socket; returns rows."""
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockdir), "-p",
                            str(self.port), "-U", "postgres", "-d", db, "-At", "-F", "\x1f", "-R", "\x1e",
                            "-c", sql], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise OcelotError(p.returncode, ["psql", "-c", sql], p.stdout, p.stderr)
        return _psql_rows(p.stdout)

    def ensure_db(self, fresh=False):
        """Creates role and database `ocelot` when missing (fresh: drops the database first)."""
        if not self.admin_sql("select 1 from pg_roles where rolname = 'ocelot'"):
            self.admin_sql("create role ocelot login")
        if fresh:
            self.admin_sql("drop database if exists ocelot with (force)")
        if not self.admin_sql("select 1 from pg_database where datname = 'ocelot'"):
            self.admin_sql("create database ocelot owner ocelot")


def _psql_rows(out):
    out = out.rstrip("\n")
    if not out:
        return []
    return [tuple(r.split("\x1f")) for r in out.split("\x1e") if r != ""]


def psql(dsn, sql, timeout=120):
    """Rows (tuples of str; NULL is '') of one SQL command run with psql -At."""
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-At", "-F", "\x1f",
                        "-R", "\x1e", "-c", sql], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise OcelotError(p.returncode, ["psql", "-c", sql], p.stdout, p.stderr)
    return _psql_rows(p.stdout)


# ---------------------------------------------------------------------------------------
# Redis and the development broker


class Redis(Proc):
    def __init__(self, workdir, port=None, log_path=None):
        self.port = port or free_port()
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                                   "--dir", str(workdir)],
                         log_path=log_path or workdir / "redis.log", cwd=workdir)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def ping(self):
        try:
            return redis_command("127.0.0.1", self.port, "PING") == "+PONG"
        except OSError:
            return False

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.ping():
            if not self.running():
                raise RuntimeError("redis-server exited with code %s; log tail:\n%s"
                                   % (self.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server not answering PING on port %d after %gs" % (self.port, timeout))
            time.sleep(0.05)
        return self


def read_broker_file(path):
    """The devbroker's port file holds "HOST:PORT" (or "bootstrap.servers=HOST:PORT")."""
    try:
        text = pathlib.Path(path).read_text().strip()
    except OSError:
        return None
    if not text:
        return None
    line = text.splitlines()[0].strip()
    if "=" in line:
        line = line.split("=", 1)[1].strip()
    return line or None


class Broker(Proc):
    def __init__(self, workdir, log_path=None, env=None):
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = workdir / "broker.addr"
        super().__init__("devbroker", [bin_path("ocelot-devbroker"), "--port-file", self.port_file],
                         env=env, log_path=log_path or workdir / "devbroker.log", cwd=workdir)
        self.bootstrap = None

    def start(self):
        try:
            self.port_file.unlink()
        except FileNotFoundError:
            pass
        return super().start()

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            addr = read_broker_file(self.port_file)
            if addr:
                host, _, port = addr.rpartition(":")
                if tcp_open(host or "127.0.0.1", int(port)):
                    self.bootstrap = addr
                    return self
            if not self.running():
                raise RuntimeError("ocelot-devbroker exited with code %s; log tail:\n%s"
                                   % (self.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("ocelot-devbroker did not report its address in %gs; log tail:\n%s"
                                   % (timeout, self.log_tail()))
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------
# Guardian: stops what a killed test left behind


def _guardian_main(state_path):
    """Runs detached; its stdin is a pipe whose write end only the test process holds. EOF
    means the test process is gone (or done): stop whatever the state file still lists."""
    if os.fork() > 0:  # detach from the test's process tree
        os._exit(0)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    try:
        state = json.loads(pathlib.Path(state_path).read_text())
    except (OSError, ValueError):
        return 0
    pgids = state.get("pgids") or []
    if not pgids and not state.get("pg"):
        return 0
    print("ocstack guardian: test process gone; cleaning up %s" % state, file=sys.stderr, flush=True)
    for pg in pgids:
        try:
            os.killpg(pg, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_pgid_alive(pg) for pg in pgids):
        time.sleep(0.2)
    for pg in pgids:
        try:
            os.killpg(pg, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if state.get("pg"):
        pgs = Postgres(state["pg"]["base"], port=state["pg"]["port"])
        pgs.stop(mode="fast", timeout=20)
    return 0


def _pgid_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class _Guardian:
    def __init__(self, state_path, log_path):
        self.state_path = pathlib.Path(state_path)
        self.write_state({})
        r, w = os.pipe()
        with open(log_path, "ab") as log:
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_guardian", str(self.state_path)],
                                 stdin=r, stdout=log, stderr=log, start_new_session=True, close_fds=True)
        os.close(r)
        p.wait()  # the first child exits at once; the grandchild keeps watching
        self.wfd = w

    def write_state(self, state):
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def close(self):
        if self.wfd is not None:
            os.close(self.wfd)
            self.wfd = None


# ---------------------------------------------------------------------------------------
# The stack


def stack_env(root, pg_dsn=None, redis_url=None, brokers=None, rules_dir=None, extra=None):
    """os.environ plus the OCELOT_* settings of a stack whose state lives in root: the
    fast settings (the caller's environment wins for those), object and lake roots under
    root, the rules directory, and the addresses given (these always win)."""
    root = pathlib.Path(root)
    env = dict(os.environ)
    env.pop("OCELOT_HTTP_PORT", None)
    for k, v in FAST_ENV.items():
        env.setdefault(k, v)
    env["OCELOT_OBJECT_ROOT"] = str(root / "objects")
    env["OCELOT_LAKE_ROOT"] = str(root / "lake")
    env["OCELOT_RULES_DIR"] = str(rules_dir or repo_root() / "examples" / "detections")
    if pg_dsn:
        env["OCELOT_PG_DSN"] = pg_dsn
    if redis_url:
        env["OCELOT_REDIS_URL"] = redis_url
    if brokers:
        env["OCELOT_KAFKA_BROKERS"] = brokers
    env.update(extra or {})
    return env



_live_stacks = []


def _atexit_close():
    for st in list(_live_stacks):
        try:
            st.close(failed=True)
        except Exception as e:  # noqa: BLE001
            _log("cleanup at exit failed: %s" % e)


atexit.register(_atexit_close)


class _Terminated(SystemExit):
    pass


class Stack:
    """A local Ocelot stack; see the module docstring.

    name      label for the temp directory and messages
    pg, redis, broker   which dependencies to start (all by default)
    migrate   run `ocelot migrate` once Postgres is up (needs bin/ocelot)
    services  service names to start (and wait ready) once everything else is up
    env       extra OCELOT_* settings for everything the stack runs (win over all else)
    rules_dir OCELOT_RULES_DIR (default <repo>/examples/detections)
    fsync     keep Postgres' durable defaults (False: fsync=off etc. for speed)
    root      state directory to use and keep (default: a fresh temp dir, removed after
              a successful run unless OCELOT_KEEP_TMP=1)
    pg_dir    Postgres base directory (default root/pg); kept across runs when given
    fresh_db  drop and recreate database ocelot before migrating
    """

    def __init__(self, name="ocelot", *, pg=True, redis=True, broker=True, migrate=True, services=(),
                 env=None, rules_dir=None, fsync=False, root=None, pg_dir=None, fresh_db=False,
                 guardian=True, quiet=True):
        self.name = name
        self.want_pg, self.want_redis, self.want_broker = pg, redis, broker
        self.want_migrate = migrate and pg
        self.want_services = list(services)
        self.extra_env = dict(env or {})
        self.rules_dir = pathlib.Path(rules_dir) if rules_dir else repo_root() / "examples" / "detections"
        self.fsync = fsync
        self.root_given = root is not None
        self.pg_dir_given = pg_dir
        self.fresh_db = fresh_db
        self.use_guardian = guardian
        self.quiet = quiet
        self.tmp = None
        self.pg = None
        self.redis = None
        self.broker = None
        self.svcs = {}
        self.services = []
        self.webhooks = []
        self.failed = False
        self.closed = False
        self._guardian = None
        self._old_handlers = {}
        self._closing = False
        if root is not None:
            self.tmp = pathlib.Path(root).resolve()
        self.env = {}

    # -- lifecycle

    def __enter__(self):
        self._install_signals()
        try:
            self.start()
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        if exc_type is not None and issubclass(exc_type, SystemExit) and not isinstance(exc, _Terminated):
            failed = exc.code not in (None, 0)
        self.close(failed=failed or self.failed)
        return False

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            if self._closing:
                return
            raise _Terminated(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):
                pass

    def _restore_signals(self):
        for sig, h in self._old_handlers.items():
            try:
                signal.signal(sig, h)
            except (ValueError, OSError, TypeError):
                pass
        self._old_handlers = {}

    def _say(self, msg):
        if not self.quiet:
            _log(msg)

    def start(self):
        t0 = time.monotonic()
        if self.tmp is None:
            self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="ocelot-%s-" % self.name.replace("/", "_")))
        self.tmp.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmp, 0o755)  # the postgres user must reach pg/ inside
        _live_stacks.append(self)
        self.logs = self.tmp / "logs"
        for d in ("logs", "objects", "lake"):
            (self.tmp / d).mkdir(exist_ok=True)
        if self.use_guardian:
            self._guardian = _Guardian(self.tmp / ".guardian.json", self.logs / "guardian.log")
        self._update_env()
        if self.want_pg:
            self.pg = Postgres(self.pg_dir_given or self.tmp / "pg", fsync=self.fsync)
            self._start_pg_retrying()
            self.pg.ensure_db(fresh=self.fresh_db)
            self._say("postgres on port %d (%s)" % (self.pg.port, self.pg.base))
        if self.want_redis:
            self._start_redis_retrying()
            self._say("redis on port %d" % self.redis.port)
        if self.want_broker:
            self.broker = Broker(self.tmp / "broker", log_path=self.logs / "devbroker.log")
            self.broker.on_change = self._sync_guardian
            self.broker.start()
            self.broker.wait_ready()
            self._say("broker at %s" % self.broker.bootstrap)
        self._update_env()
        if self.want_migrate:
            self.ocelot("migrate")
        for name in self.want_services:
            self.service(name)
        for svc in self.services:
            svc.wait_ready(60)
        self._say("stack up in %.1fs (%s)" % (time.monotonic() - t0, self.tmp))
        return self

    def _start_pg_retrying(self):
        for attempt in range(3):
            try:
                self.pg.running_flag = True  # the guardian stops it should we die while it starts
                self._sync_guardian()
                self.pg.start()
                return
            except RuntimeError as e:
                # Another process may have taken the port since we picked it: try another.
                if attempt == 2 or "already in use" not in str(e):
                    raise
                self.pg.port = free_port()

    def _start_redis_retrying(self):
        for attempt in range(3):
            self.redis = Redis(self.tmp / "redis", log_path=self.logs / "redis.log")
            self.redis.on_change = self._sync_guardian
            self.redis.start()
            try:
                self.redis.wait_ready()
                return
            except RuntimeError:
                self.redis.stop(5)
                if attempt == 2:
                    raise

    def _sync_guardian(self):
        if not self._guardian:
            return
        pgids = [p.pid for p in self._procs() if p.running()]
        state = {"pgids": pgids}
        if self.pg and self.pg.running_flag:
            state["pg"] = {"base": str(self.pg.base), "port": self.pg.port}
        try:
            self._guardian.write_state(state)
        except OSError:
            pass

    def _procs(self):
        return [p for p in self.services + [self.broker, self.redis] if p is not None]

    def _update_env(self):
        env = stack_env(self.tmp, pg_dsn=self.pg.dsn if self.pg else None,
                        redis_url=self.redis.url if self.redis else None,
                        brokers=self.broker.bootstrap if self.broker else None,
                        rules_dir=self.rules_dir, extra=self.extra_env)
        self.env.clear()
        self.env.update(env)

    def close(self, failed=False):
        """Stops everything (services, broker, Redis, Postgres) and removes the temp dir
        unless failed or OCELOT_KEEP_TMP=1."""
        if self.closed:
            return
        self._closing = True
        self.failed = self.failed or failed
        try:
            if self.failed and self.services:
                for svc in self.services:
                    print("---- %s (%s), last lines ----\n%s" % (svc.name, svc.log_path, svc.log_tail(30)),
                          file=sys.stderr, flush=True)
            running = [s for s in self.services if s.running()]
            for s in running:
                try:
                    os.killpg(s.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for s in running:
                rc = s.stop(20)
                if rc not in (0, None, -signal.SIGTERM) and not self.failed:
                    _log("%s exited with code %s at shutdown" % (s.name, rc))
            for p in (self.broker, self.redis):
                if p is not None:
                    p.stop(10)
            for wh in self.webhooks:
                wh.close()
            if self.pg is not None and (self.pg.running_flag or self.pg.postmaster_pid()):
                self.pg.stop()
            self._sync_guardian()
        finally:
            self.closed = True
            if self._guardian:
                self._guardian.close()
            if self in _live_stacks:
                _live_stacks.remove(self)
            self._restore_signals()
            self._closing = False
        if self.tmp is not None and not self.root_given:
            if self.failed or os.environ.get("OCELOT_KEEP_TMP") == "1":
                print("ocstack: %s kept at %s" % ("failed run's state" if self.failed else "state", self.tmp),
                      file=sys.stderr, flush=True)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # -- services and tools

    def service(self, name, env=None, args=(), wait=False):
        """Starts bin/ocelot-<name> with st.env (+ env) on a free HTTP port."""
        senv = dict(self.env)
        senv.update(env or {})
        n = sum(1 for s in self.services if s.name == name)
        log_path = self.logs / ("%s.log" % name if n == 0 else "%s-%d.log" % (name, n + 1))
        svc = Service(name, senv, log_path, cwd=self.tmp, args=args)
        svc.on_change = self._sync_guardian
        svc.start()
        self.services.append(svc)
        self.svcs.setdefault(name, svc)
        if wait:
            svc.wait_ready(60 if wait is True else wait)
        return svc

    def start_all(self, env=None, wait=True):
        """Starts the five services in pipeline order; returns {name: Service}."""
        out = {}
        for name in SERVICES:
            out[name] = self.service(name, env=env)
        if wait:
            for svc in out.values():
                svc.wait_ready(60)
        self.svcs.update(out)
        return out

    def ocelot(self, *args, check=True, timeout=120, env=None, input=None):
        """Runs bin/ocelot with st.env; CompletedProcess with text output."""
        e = dict(self.env)
        e.update(env or {})
        argv = [str(bin_path("ocelot"))] + [str(a) for a in args]
        p = subprocess.run(argv, env=e, cwd=str(self.tmp), capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise OcelotError(p.returncode, ["ocelot"] + list(args), p.stdout, p.stderr)
        return p

    def sql(self, query, timeout=120):
        """Rows of one SQL command as tuples of str (psql -At; NULL is '')."""
        if not self.pg:
            raise RuntimeError("this stack has no Postgres")
        return psql(self.pg.dsn, query, timeout=timeout)

    def put_object(self, bucket, key, data):
        """Writes data (bytes or str) to $OCELOT_OBJECT_ROOT/bucket/key atomically."""
        root = (self.tmp / "objects").resolve()
        path = (root / bucket / key).resolve()
        if root not in path.parents:
            raise ValueError("object key escapes the object root: %s/%s" % (bucket, key))
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        tmp = path.with_name(".%s.tmp-%d" % (path.name, os.getpid()))
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def notify(self, bucket, key, *extra):
        return self.ocelot("notify", "--bucket", bucket, "--key", key, *extra)

    def ingest(self, bucket, *files, prefix=None):
        args = ["ingest", "--bucket", bucket]
        if prefix:
            args += ["--prefix", prefix]
        return self.ocelot(*args, *files)

    def webhook(self, **kw):
        """A WebhookReceiver closed together with the stack."""
        wh = WebhookReceiver(**kw)
        self.webhooks.append(wh)
        return wh

    def stop_postgres(self):
        self.pg.stop()
        self._sync_guardian()

    def start_postgres(self):
        self.pg.running_flag = True
        self._sync_guardian()
        self.pg.start()  # same data directory, same port

    def redis_ping(self):
        return self.redis.ping()


# ---------------------------------------------------------------------------------------
# Webhook receiver


class CaseInsensitiveDict(dict):
    """Keeps header names as sent; lookups ignore case."""

    def _find(self, key):
        if isinstance(key, str):
            lk = key.lower()
            for k in dict.keys(self):
                if k.lower() == lk:
                    return k
        return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._find(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._find(key))

    def get(self, key, default=None):
        return dict.get(self, self._find(key), default)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (free port) that records every POST and answers
    `status` (settable at any time; an int, or a callable(request) -> int).

    requests: list of dict(method, path, headers, body, body_json, time, status)
    delay:    seconds to wait before answering (float, or callable(request) -> float)
    """

    def __init__(self, status=200, delay=0.0, host="127.0.0.1", port=0, path="/hook"):
        self.status = status
        self.delay = delay
        self.requests = []
        self.lock = threading.Lock()
        self.on_request = None  # optional callable(request) after recording
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n > 0 else b""

            def _answer(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self._body()
                try:
                    body_json = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    body_json = None
                req = {
                    "method": "POST",
                    "path": self.path,
                    "headers": CaseInsensitiveDict(self.headers.items()),
                    "body": raw.decode("utf-8", errors="replace"),
                    "body_json": body_json,
                    "time": time.time(),
                }
                delay = receiver.delay(req) if callable(receiver.delay) else receiver.delay
                if delay:
                    time.sleep(delay)
                status = receiver.status(req) if callable(receiver.status) else receiver.status
                req["status"] = int(status)
                with receiver.lock:
                    receiver.requests.append(req)
                if receiver.on_request:
                    try:
                        receiver.on_request(req)
                    except Exception as e:  # noqa: BLE001
                        _log("webhook on_request failed: %s" % e)
                self._answer(req["status"], b'{"ok":%s}' % (b"true" if req["status"] < 300 else b"false"))

            do_PUT = do_POST

            def do_GET(self):
                self._answer(200, json.dumps({"requests": len(receiver.requests)}).encode())

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://%s:%d%s" % (host, self.port, path)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="webhook-%d" % self.port, daemon=True)
        self.thread.start()
        self._closed = False

    def bodies(self):
        return [r["body_json"] for r in list(self.requests)]

    def clear(self):
        with self.lock:
            del self.requests[:]

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def gzip_bytes(data):
    return gzip.compress(data if isinstance(data, bytes) else data.encode())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_guardian":
        sys.exit(_guardian_main(sys.argv[2]))
    print("usage: ocstack.py is a library (see its docstring); tools/stack/stack.py runs the stack",
          file=sys.stderr)
    sys.exit(2)
