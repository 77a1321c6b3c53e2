"""Helpers shared by the ingest integration tests (log-router, log-processor)."""
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
import gen_cloudtrail  # noqa: E402,F401
from ocstack import Stack, wait_until  # noqa: E402,F401

DLQ_HEADERS = ["oc-error", "oc-error-class", "oc-service", "oc-source-topic",
               "oc-source-partition", "oc-source-offset", "oc-attempts", "oc-failed-at"]


def dump(st, topic, timeout_ms=2000):
    """Every record of topic, as `ocelot topic dump` prints them (dicts)."""
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", str(timeout_ms)).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def processed_for(st, key):
    """ProcessedFile values whose input object key is `key`."""
    return [r["value"] for r in dump(st, "processed-files")
            if (r.get("value") or {}).get("input", {}).get("key") == key]


def rows_for(st, key):
    return sum(int(v.get("row_count", 0)) for v in processed_for(st, key))


def lake_rows(st, lake_key):
    """The JSON rows of one lake file (zstd JSON lines)."""
    path = pathlib.Path(st.env["OCELOT_LAKE_ROOT"]) / lake_key
    data = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()]


def log(*a):
    print("[ingest-test]", *a, flush=True)
