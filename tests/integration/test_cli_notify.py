"""Getting objects in and looking at topics:
 - `ocelot notify` produces a decodable ObjectNotification (checked with `topic dump`):
   bucket, key, size, etag "<mtime_us>-<size>", mtime, received_at, record key "B/K";
   a missing file is a clear error, --no-stat announces it anyway;
 - `ocelot ingest` copies files into the object store and announces each;
 - `ocelot watch` moves dropped files in once they stop growing, announces them, and
   stops on SIGTERM;
 - `topic dump` decodes every envelope type generically (enums by name, nested messages,
   repeated fields, negative int64) and prints other values as text; `topic produce`."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "stack"))
from ocstack import Stack, bin_path, wait_until  # noqa: E402


def log(*a):
    print("[test_cli_notify]", *a, flush=True)


def dump(st, topic, *extra):
    out = st.ocelot("topic", "dump", topic, "--timeout-ms", "3000", *extra).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


# -- a minimal protobuf encoder, to hand `topic dump` envelopes it did not produce itself

def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint((num << 3) | 2) + varint(len(b)) + b


def main():
    with Stack("cli-notify", pg=False, redis=False, migrate=False) as st:
        objects = pathlib.Path(st.env["OCELOT_OBJECT_ROOT"])

        # -- notify
        path = st.put_object("logs", "cloudtrail/2026/a.json.gz", b"x" * 1234)
        stt = os.stat(path)
        mtime_us = stt.st_mtime_ns // 1000
        before_us = int(time.time() * 1e6)
        out = st.notify("logs", "cloudtrail/2026/a.json.gz").stdout
        assert out.startswith("notified logs/cloudtrail/2026/a.json.gz (1234 bytes"), out
        recs = dump(st, "input-notifications")
        assert len(recs) == 1, recs
        r = recs[0]
        assert r["topic"] == "input-notifications" and r["key"] == "logs/cloudtrail/2026/a.json.gz", r
        v = r["value"]
        assert v["bucket"] == "logs" and v["key"] == "cloudtrail/2026/a.json.gz", v
        assert v["size"] == 1234 and v["mtime_us"] == mtime_us, (v, mtime_us)
        assert v["etag"] == "%d-1234" % mtime_us, v
        assert v["source_id"] == ""
        assert before_us - 5e6 <= v["received_at_us"] <= time.time() * 1e6 + 5e6, v
        log("notification:", r)

        st.notify("logs", "cloudtrail/2026/a.json.gz", "--etag", "abc")
        assert any(x["value"]["etag"] == "abc" for x in dump(st, "input-notifications"))

        p = st.ocelot("notify", "--bucket", "logs", "--key", "nope.json", check=False)
        assert p.returncode == 1 and "could not stat" in p.stderr and "nope.json" in p.stderr, p.stderr
        p = st.ocelot("notify", "--bucket", "logs", "--key", "a/../../etc/passwd", check=False)
        assert p.returncode == 2 and "invalid key" in p.stderr, p.stderr
        st.ocelot("notify", "--bucket", "logs", "--key", "a/../../etc/passwd", "--no-stat")
        recs = dump(st, "input-notifications")
        assert len(recs) == 3, recs
        bad = [x for x in recs if x["value"]["key"] == "a/../../etc/passwd"]
        assert len(bad) == 1 and bad[0]["value"]["size"] == 0, bad

        # -- ingest
        src = st.tmp / "in"
        src.mkdir()
        (src / "one.json").write_text('{"a":1}\n')
        (src / "two.json").write_text('{"b":2}\n{"b":3}\n')
        out = st.ingest("drop", str(src / "one.json"), str(src / "two.json"), prefix="fw/").stdout
        assert out.count("ingested ") == 2, out
        assert (objects / "drop/fw/one.json").read_text() == '{"a":1}\n'
        assert (objects / "drop/fw/two.json").read_text() == '{"b":2}\n{"b":3}\n'
        keys = {x["key"]: x["value"] for x in dump(st, "input-notifications")}
        assert keys["drop/fw/two.json"]["size"] == 16, keys
        assert not list((objects / "drop/fw").glob(".*")), "temporary file left behind"
        p = st.ocelot("ingest", "--bucket", "drop", str(src / "missing.json"), check=False)
        assert p.returncode == 1 and "missing.json" in p.stderr, p.stderr

        # -- watch
        drop = st.tmp / "dropdir"
        w = subprocess.Popen([str(bin_path("ocelot")), "watch", "--dir", str(drop), "--bucket", "w",
                              "--prefix", "in/", "--interval-ms", "400"], env=st.env, cwd=str(st.tmp),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            wait_until(lambda: drop.is_dir(), timeout=30, what="watch creates its directory")
            (drop / "sub").mkdir()
            (drop / ".partial").write_text("temporary")
            with open(drop / "sub" / "growing.log", "w") as f:
                for i in range(5):  # grows across several polls
                    f.write("line %d\n" % i)
                    f.flush()
                    time.sleep(0.1)
            (drop / "small.log").write_text("hello\n")
            wait_until(lambda: (objects / "w/in/sub/growing.log").exists() and (objects / "w/in/small.log").exists(),
                       timeout=30, what="watched files moved into the object store")
            assert (objects / "w/in/sub/growing.log").read_text() == "".join("line %d\n" % i for i in range(5))
            assert not (drop / "small.log").exists() and not (drop / "sub/growing.log").exists()
            assert (drop / ".partial").exists(), "hidden files must be left alone"
            wait_until(lambda: {"w/in/small.log", "w/in/sub/growing.log"} <=
                       {x["key"] for x in dump(st, "input-notifications")}, timeout=30,
                       what="watched files announced")
            grown = [x for x in dump(st, "input-notifications") if x["key"] == "w/in/sub/growing.log"]
            assert len(grown) == 1 and grown[0]["value"]["size"] == 35, grown
        finally:
            w.send_signal(signal.SIGTERM)
            try:
                rc = w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
                raise
            err = w.stderr.read()
            w.stdout.close()
            w.stderr.close()
        assert rc == 0, (rc, err)
        assert '"object ingested"' in err, err

        # -- topic dump decodes every envelope type; other values are text
        on = f_bytes(2, "b1") + f_bytes(3, "k/1.json") + f_varint(4, 77)
        pf = (f_varint(1, 1) + f_bytes(2, "AWS.CloudTrail") + f_bytes(3, "logs/aws_cloudtrail/x.json.zst") +
              f_varint(4, 1000) + f_varint(6, -5) + f_bytes(8, "ct") + f_bytes(10, on))
        argv = [str(bin_path("ocelot")), "topic", "produce", "processed-files.dlq", "--key", "pf1",
                "--header", "oc-error=bad"]
        subprocess.run(argv, env=st.env, input=pf, check=True, capture_output=True)
        rec = dump(st, "processed-files.dlq")[0]
        assert rec["key"] == "pf1" and rec["headers"] == {"oc-error": "bad"}, rec
        v = rec["value"]
        assert v["kind"] == "FILE_KIND_LOGS" and v["row_count"] == 1000, v
        assert v["first_event_time_us"] == -5 and v["last_event_time_us"] == 0, v
        assert v["input"]["bucket"] == "b1" and v["input"]["size"] == 77, v
        assert v["source_label"] == "", v

        rmg = (f_bytes(1, "id1") + f_bytes(2, "Rule.X") + f_bytes(15, "hook") + f_bytes(15, "slack") +
               f_varint(17, 1) + f_varint(19, 3))
        subprocess.run([str(bin_path("ocelot")), "topic", "produce", "rule-matches", "--key", "Rule.X:d"],
                       env=st.env, input=rmg, check=True, capture_output=True)
        v = dump(st, "rule-matches")[0]["value"]
        assert v["destinations"] == ["hook", "slack"] and v["is_error"] is True and v["threshold"] == 3, v
        assert v["sample_events"] == [] and v["rule_id"] == "Rule.X", v

        s3 = '{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}'
        st.ocelot("topic", "produce", "input-notifications", "--key", "s3", input=s3)
        s3rec = [x for x in dump(st, "input-notifications") if x["key"] == "s3"]
        assert s3rec and s3rec[0]["value"] == s3, s3rec
        st.ocelot("topic", "produce", "misc", "--header", "h=1", input="caf\u00e9 \"q\"\n")
        m = dump(st, "misc")
        assert m == [{"topic": "misc", "partition": m[0]["partition"], "offset": 0, "key": None,
                      "headers": {"h": "1"}, "value": "caf\u00e9 \"q\"\n"}], m
        assert dump(st, "no-such-topic") == []
        assert len(dump(st, "input-notifications", "--max", "2")) == 2

        # -- help
        for cmd in (["--help"], ["requeue", "--help"], ["topic", "dump", "--help"], ["notify", "--help"],
                    ["watch", "--help"], ["ingest", "--help"]):
            p = st.ocelot(*cmd)
            assert p.stdout.startswith("Usage: ocelot"), (cmd, p.stdout)
        log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
