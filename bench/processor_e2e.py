#!/usr/bin/env python3
"""log-processor end to end through the broker: a local stack (Postgres, the development
broker, log-router, log-processor), one generated CloudTrail file dropped in the object
store and announced with `ocelot notify`; measures the time until the processor has
written every event (its metrics) and until the ProcessedFile records on processed-files
account for every row. Prints events/s, MB/s (uncompressed input bytes per second) and
the processor's peak RSS.

    bench/processor_e2e.py [-n 200000] [--form lines|records] [--plain]

Needs a build (OCELOT_BUILD_DIR, default <repo>/build). Python 3 standard library only.
"""
import argparse
import gzip
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools" / "stack"))
import gen_cloudtrail  # noqa: E402
from ocstack import Stack, wait_until  # noqa: E402

UNIQUE = 20000  # distinct generated events; repeated with new ids and times up to -n


def write_events(path, n, form, gz):
    """Writes n CloudTrail events to path; returns the uncompressed size."""
    base = gen_cloudtrail.generate(min(n, UNIQUE), seed=7, spread_minutes=60)
    opener = (lambda p: gzip.open(p, "wb", compresslevel=6)) if gz else (lambda p: open(p, "wb"))
    size = 0
    with opener(path) as f:
        def put(b):
            nonlocal size
            f.write(b)
            size += len(b)
        if form == "records":
            put(b'{"Records":[')
        i = 0
        rep = 0
        while i < n:
            for ev in base:
                if i >= n:
                    break
                e = dict(ev)
                e["eventID"] = "%02d%s" % (rep, ev["eventID"][2:])
                # each repetition one hour later: the events spread over several partitions
                e["eventTime"] = ev["eventTime"][:11] + "%02d" % ((int(ev["eventTime"][11:13]) + rep) % 24) + \
                    ev["eventTime"][13:]
                text = json.dumps(e, separators=(",", ":")).encode()
                if form == "records":
                    put((b"," if i else b"") + text)
                else:
                    put(text + b"\n")
                i += 1
            rep += 1
        if form == "records":
            put(b"]}")
    return size


def processed_rows(st, key):
    out = st.ocelot("topic", "dump", "processed-files", "--timeout-ms", "1000").stdout
    total = files = 0
    for line in out.splitlines():
        if not line.strip():
            continue
        v = json.loads(line).get("value") or {}
        if v.get("input", {}).get("key") == key:
            total += int(v.get("row_count", 0))
            files += 1
    return total, files


def peak_rss_mb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--events", type=int, default=200000)
    ap.add_argument("--form", choices=("lines", "records"), default="lines")
    ap.add_argument("--plain", action="store_true", help="no gzip")
    a = ap.parse_args()
    if a.events < 1:
        ap.error("-n must be positive")
    gz = not a.plain
    key = "bench/ct-%s.json%s" % (a.form, ".gz" if gz else "")
    with Stack("bench-processor-e2e") as st:
        st.ocelot("sources", "add", "--id", "bench", "--label", "Bench", "--bucket", "bench",
                  "--log-type", "AWS.CloudTrail")
        router = st.service("log-router")
        proc = st.service("log-processor")
        router.wait_ready(60)
        proc.wait_ready(60)

        # Warm-up: the processor discovers source.bench (regex subscription) first.
        st.put_object("bench", "warmup.json", gen_cloudtrail.encode(gen_cloudtrail.generate(10), "lines"))
        st.notify("bench", "warmup.json")
        wait_until(lambda: processed_rows(st, "warmup.json")[0] == 10, timeout=120, what="warm-up object")
        base_events = proc.metric("ocelot_processor_events_total", source="bench")
        base_batch = proc.metric("ocelot_batch_duration_seconds_sum")

        path = pathlib.Path(st.env["OCELOT_OBJECT_ROOT"]) / "bench" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.monotonic()
        size = write_events(path, a.events, a.form, gz)
        print("generated %d events (%s%s), %.1f MB uncompressed, %.1f MB on disk, in %.1f s"
              % (a.events, a.form, ", gzip" if gz else "", size / 1e6, path.stat().st_size / 1e6,
                 time.monotonic() - t), flush=True)

        t0 = time.monotonic()
        st.notify("bench", key)
        t_notify = time.monotonic() - t0
        wait_until(lambda: proc.metric("ocelot_processor_events_total", source="bench") - base_events
                   >= a.events, timeout=600, interval=0.05, what="the processor to write every event")
        t_written = time.monotonic() - t0
        wait_until(lambda: processed_rows(st, key)[0] == a.events, timeout=120, interval=0.1,
                   what="ProcessedFile records for every row")
        t_claimed = time.monotonic() - t0
        rows, files = processed_rows(st, key)
        rss = peak_rss_mb(proc.pid)
        in_batch = proc.metric("ocelot_batch_duration_seconds_sum") - base_batch
        print("`ocelot notify` took %.2f s; the processor's batch (read, parse, write, produce, "
              "commit) took %.2f s: %.0f events/s, %.1f MB/s"
              % (t_notify, in_batch, a.events / in_batch, size / 1e6 / in_batch))
        print("events written by the processor after %.2f s: %.0f events/s, %.1f MB/s"
              % (t_written, a.events / t_written, size / 1e6 / t_written))
        print("ProcessedFile records for all %d rows (%d lake files) after %.2f s: "
              "%.0f events/s, %.1f MB/s" % (rows, files, t_claimed, a.events / t_claimed,
                                            size / 1e6 / t_claimed))
        print("log-processor peak RSS: %.1f MB" % rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
