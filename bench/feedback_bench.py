#!/usr/bin/env python3
"""Feedback ingestion benchmark: signed batches against a running router.

    python3 bench/feedback_bench.py --url http://127.0.0.1:8080 --secret S \
        [--seconds 10] [--batch 1000] [--clients 4] [--comment-bytes 200] [--baseline-batch 1]

Each client process keeps one keep-alive connection and sends batches of unique
feedback items (thumbs, ratings, comments, tickets in turn), signed like a sender
would. Bodies are built and signed before the clock starts, so the numbers measure the
router and PostgreSQL, not Python. Prints items/s and batch latency percentiles for
the batch size, then for --baseline-batch (single signals) in the same run.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import time
import urllib.parse
import uuid


def make_bodies(n_bodies, batch, comment_bytes, tag):
    kinds = ["thumb", "rating", "comment", "ticket"]
    bodies = []
    for b in range(n_bodies):
        items = []
        for i in range(batch):
            k = kinds[i % 4]
            it = {"feedback_id": f"{tag}-{b}-{i}", "request_id": f"req-{tag}-{b}-{i % 97}",
                  "kind": k, "user_id": f"user-{i % 1000}",
                  "created_at": "2026-11-28T03:00:00Z"}
            if k == "thumb":
                it["value"] = "up" if i % 3 else "down"
            elif k == "rating":
                it["value"] = 1 + i % 5
            elif k == "comment":
                it["comment"] = ("great answer " * (comment_bytes // 13 + 1))[:comment_bytes]
            else:
                it["value"] = "high"
            items.append(it)
        bodies.append(json.dumps(items if batch > 1 else items[0]).encode())
    return bodies


def client(url, secret, seconds, batch, comment_bytes, q):
    u = urllib.parse.urlsplit(url)
    tag = uuid.uuid4().hex[:12]
    # enough pre-built bodies for the run at up to ~50 batches/s per client
    n = max(20, int(seconds * (50 if batch > 1 else 3000)))
    bodies = make_bodies(n, batch, comment_bytes, tag)
    t = str(int(time.time())).encode()
    signed = [(b, "t=%s,v1=%s" % (t.decode(), hmac.new(secret, t + b"." + b, hashlib.sha256).hexdigest()))
              for b in bodies]
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    lat, items, errors, i = [], 0, 0, 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline and i < len(signed):
        body, sig = signed[i]
        i += 1
        t0 = time.monotonic()
        conn.request("POST", "/v1/feedback", body,
                     {"Content-Type": "application/json", "X-Switchyard-Signature": sig})
        r = conn.getresponse()
        r.read()
        lat.append(time.monotonic() - t0)
        if r.status == 200:
            items += batch
        else:
            errors += 1
    q.put((items, errors, lat, time.monotonic() - start))


def run(url, secret, seconds, batch, clients, comment_bytes):
    q = mp.Queue()
    procs = [mp.Process(target=client, args=(url, secret, seconds, batch, comment_bytes, q))
             for _ in range(clients)]
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    for p in procs:
        p.join()
    items = sum(r[0] for r in res)
    errors = sum(r[1] for r in res)
    lat = sorted(x for r in res for x in r[2])
    wall = max(r[3] for r in res)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
    print(f"batch={batch:5d} clients={clients} items={items} errors={errors} "
          f"seconds={wall:.1f} items/s={items / wall:,.0f} requests/s={len(lat) / wall:,.0f} "
          f"p50_ms={pct(0.5):.1f} p99_ms={pct(0.99):.1f}")
    return items / wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--secret", default=os.environ.get("SWITCHYARD_FEEDBACK_SECRET", ""))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--comment-bytes", type=int, default=200)
    ap.add_argument("--baseline-batch", type=int, default=1)
    a = ap.parse_args()
    if not a.secret:
        ap.error("--secret or SWITCHYARD_FEEDBACK_SECRET is required")
    run(a.url, a.secret.encode(), a.seconds, a.batch, a.clients, a.comment_bytes)
    if a.baseline_batch:
        run(a.url, a.secret.encode(), a.seconds, a.baseline_batch, a.clients, a.comment_bytes)


if __name__ == "__main__":
    main()
