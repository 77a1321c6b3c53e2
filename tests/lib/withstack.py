#!/usr/bin/env python3
"""withstack.py [--pg] [--redis] [--broker] [--migrate] -- CMD [ARG...]

Starts a fresh Postgres, Redis and/or development broker on 127.0.0.1 (tools/stack/ocstack.py),
runs CMD with OCELOT_PG_DSN, OCELOT_REDIS_URL, OCELOT_KAFKA_BROKERS and the rest of the
stack's OCELOT_* settings in its environment, stops everything, and exits with CMD's exit
code (128+N when CMD died of signal N). --migrate also runs `ocelot migrate` first (by
default the database is empty, so a test can exercise the migrations itself).
The stack's temp dir is kept (and printed) when CMD fails or OCELOT_KEEP_TMP=1.
"""
import argparse
import pathlib
import subprocess
import sys

_here = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(_here.parents[2] / "tools" / "stack"))
from ocstack import Stack  # noqa: E402


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    i = argv.index("--")
    opts, cmd = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="withstack.py", description="Run a command against a fresh local stack.")
    ap.add_argument("--pg", action="store_true", help="start Postgres (OCELOT_PG_DSN)")
    ap.add_argument("--redis", action="store_true", help="start Redis (OCELOT_REDIS_URL)")
    ap.add_argument("--broker", action="store_true", help="start the development broker (OCELOT_KAFKA_BROKERS)")
    ap.add_argument("--migrate", action="store_true", help="run `ocelot migrate` before CMD (implies --pg)")
    ap.add_argument("--timeout", type=float, default=None, help="kill CMD after this many seconds")
    a = ap.parse_args(opts)
    if not cmd:
        ap.error("no command after --")
    name = pathlib.Path(cmd[0]).name or "cmd"
    with Stack(name, pg=a.pg or a.migrate, redis=a.redis, broker=a.broker, migrate=a.migrate) as st:
        try:
            p = subprocess.Popen(cmd, env=st.env)
        except OSError as e:
            print("withstack: could not run %s: %s" % (cmd[0], e), file=sys.stderr)
            st.failed = True
            return 127
        try:
            rc = p.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            print("withstack: %s still running after %gs; killing it" % (cmd[0], a.timeout), file=sys.stderr)
            p.kill()
            p.wait()
            rc = 124
        except BaseException:
            # SIGTERM/SIGINT of withstack itself: stop CMD, then the stack (in Stack.__exit__).
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            raise
        if rc < 0:
            rc = 128 - rc
        if rc != 0:
            st.failed = True
        return rc


if __name__ == "__main__":
    sys.exit(main())
