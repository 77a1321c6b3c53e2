"""A requeue killed with SIGKILL mid-way and run again: every dead letter ends up in the
target at least once. Duplicates are possible only for the batch that was in flight at
the kill (at most one batch of 1,000); the test counts and prints them."""
import collections
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, bin_path  # noqa: E402

N = 60000
BATCH = 1000
RATE = 20000  # records/s for the first run: about 3 s for N, so the kill lands mid-way
KILL_DELAY = float(os.environ.get("OC_TEST_KILL_DELAY", "0.3"))


def log(*a):
    print("[test_cli_requeue_kill]", *a, flush=True)


def keys_of(st, topic):
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", "5000", timeout=300).stdout
    return [json.loads(l)["key"] for l in out.splitlines() if l.strip()]


def main():
    with Stack("cli-requeue-kill", pg=False, redis=False, migrate=False) as st:
        text = "".join("k%06d\tv%d\n" % (i, i) for i in range(N))
        out = st.ocelot("topic", "produce", "delta.dlq", "--lines", "--header", "oc-error=boom",
                        "--header", "keep=1", input=text).stdout
        assert ("produced %d records" % N) in out, out

        # First run: killed a moment after its first committed batch, so that (usually)
        # a batch is in flight: produced, perhaps delivered, not committed.
        argv = [str(bin_path("ocelot")), "requeue", "--from", "delta.dlq", "--max-rate", str(RATE)]
        proc = subprocess.Popen(argv, env=st.env, cwd=str(st.tmp), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        deadline = time.monotonic() + 120
        seen = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line.rstrip())
            if line.startswith("requeued "):
                time.sleep(KILL_DELAY)
                os.killpg(proc.pid, signal.SIGKILL)
                break
        rc = proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
        log("first run: exit %s after %r" % (rc, seen[-1] if seen else None))
        assert rc == -signal.SIGKILL, (rc, seen)
        first = keys_of(st, "delta")
        log("records in the target after the kill: %d of %d" % (len(first), N))
        assert BATCH <= len(first) < N, "the kill did not land mid-way (%d records moved)" % len(first)

        # Second run: picks up at the committed offsets (after the dead member's session
        # times out of the group).
        p = st.ocelot("requeue", "--from", "delta.dlq", timeout=300)
        log("second run:", p.stdout.strip())
        moved2 = int(p.stdout.split()[1])
        assert 0 < moved2 <= N - BATCH, p.stdout

        keys = keys_of(st, "delta")
        counts = collections.Counter(keys)
        missing = [k for k in ("k%06d" % i for i in range(N)) if k not in counts]
        dups = sorted(k for k, c in counts.items() if c > 1)
        log("target holds %d records, %d distinct, %d missing, %d duplicated"
            % (len(keys), len(counts), len(missing), len(dups)))
        if dups:
            log("duplicates (first 20):", dups[:20])
        assert not missing, "lost records: %s" % missing[:20]
        assert len(counts) == N
        # Only the batch in flight at the kill can have been sent twice.
        assert len(keys) - N <= BATCH, len(keys) - N
        # What the target holds is what the killed run delivered plus what the rerun moved.
        assert len(keys) == len(first) + moved2, (len(keys), len(first), moved2)
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
