#!/usr/bin/env python3
"""Load generator and report for scripts/bench-inflight.sh (Python 3.11 standard library only).

  load   creates N plans at once through POST /api/v1/plans (topics `... bench-LEVEL-I`, unique
         words the fake provider logs as keys), or at --rate plans a second, and subscribes to
         GET /api/v1/plans/{id}/events for S of them right after each create (the first S, or S
         spread evenly from plan --subscribe-from on); writes plans.tsv (then touches
         `created`) and events.jsonl (every event with its receive time) into DIR.
  report reads DIR (plans.tsv, events.jsonl, modules.log from the fake provider, worker.log,
         jobs.tsv, samples.tsv, run.env from the script) and prints one JSON object: the level's
         figures.
  table  prints the Markdown summary of report lines.

Times are wall-clock epoch microseconds on this machine: the fake provider, the worker's logs and
this client share the clock.
"""

import asyncio
import codecs
import json
import os
import re
import sys
import time
from datetime import datetime


def now_us():
    return time.time_ns() // 1000


# --- a minimal HTTP/1.1 client (one request per connection) -------------------------------------


async def request(host, port, method, path, token, body=None, timeout=60):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        writer.write(head.encode() + data)
        await writer.drain()
        status, headers = await read_head(reader, timeout)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            payload = b"".join([c async for c in chunks(reader)])
        elif "content-length" in headers:
            payload = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout)
        else:
            payload = await asyncio.wait_for(reader.read(), timeout)
        return status, payload
    finally:
        writer.close()


async def read_head(reader, timeout):
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def chunks(reader):
    """The body of a chunked response, chunk by chunk, as it arrives."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


async def raw(reader):
    while data := await reader.read(65536):
        yield data


# --- load ---------------------------------------------------------------------------------------


async def subscribe(host, port, token, plan_id, out, stats, timeout):
    """Reads the plan's event stream until the server closes it; one JSON line per event."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        stats["subscribe_errors"] += 1
        stats.setdefault("subscribe_error", str(e))
        return
    try:
        writer.write((f"GET /api/v1/plans/{plan_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n").encode())
        await writer.drain()
        status, headers = await read_head(reader, timeout)
        if status != 200:
            stats["subscribe_status"][status] = stats["subscribe_status"].get(status, 0) + 1
            return
        stats["subscribed"] += 1
        body = chunks(reader) if headers.get("transfer-encoding", "").lower() == "chunked" else raw(reader)
        buffer = ""
        decoder = codecs.getincrementaldecoder("utf-8")()
        event = {"event": "message", "data": []}
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                stats["subscribe_timeouts"] += 1
                return
            try:
                data = await asyncio.wait_for(anext(body), left)
            except StopAsyncIteration:
                return
            received = now_us()
            buffer += decoder.decode(data)
            *lines, buffer = re.split(r"\r\n|\n|\r", buffer)
            for line in lines:
                if line == "":
                    if event["data"] or event.get("id"):
                        out.write(json.dumps({"plan": plan_id, "at": received, "event": event["event"],
                                              "id": event.get("id"), "data": "\n".join(event["data"])}) + "\n")
                    event = {"event": "message", "data": []}
                elif line.startswith(":"):
                    stats["keepalives"] += 1
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "data":
                        event["data"].append(value)
                    elif field in ("event", "id"):
                        event[field] = value
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
        stats["subscribe_errors"] += 1
        stats.setdefault("subscribe_error", repr(e))
    finally:
        writer.close()


async def load(args):
    host, port = args.api.rsplit(":", 1)
    port = int(port)
    tokens = [t.strip() for t in open(args.tokens) if t.strip()]
    out = open(os.path.join(args.dir, "events.jsonl"), "w", buffering=1)
    stats = {"subscribed": 0, "subscribe_errors": 0, "subscribe_timeouts": 0, "subscribe_status": {},
             "keepalives": 0, "create_errors": 0}
    plans = []
    subscribers = []
    gate = asyncio.Semaphore(args.connections)
    start_at = time.monotonic()
    stride = max(1, (args.n - args.subscribe_from) // max(1, args.subscribe))
    followed = set(range(args.subscribe_from, args.n, stride)[: args.subscribe])

    async def create(i):
        if args.rate:
            await asyncio.sleep(max(0.0, start_at + i / args.rate - time.monotonic()))
        key = f"bench-{args.level}-{i}"
        token = tokens[i % len(tokens)]
        body = {"topic": f"In-flight benchmark {key}", "skill_level": "beginner", "weekly_hours": 5,
                "learning_style": "practice"}
        async with gate:
            start = now_us()
            try:
                status, payload = await request(host, port, "POST", "/api/v1/plans", token, body)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                status, payload = 0, repr(e).encode()
            end = now_us()
        if status != 201:
            stats["create_errors"] += 1
            stats.setdefault("create_error", f"{status} {payload[:200]!r}")
            return
        plan_id = json.loads(payload)["id"]
        plans.append((key, plan_id, start, end))
        if i in followed:
            subscribers.append(asyncio.create_task(
                subscribe(host, port, token, plan_id, out, stats, args.timeout)))

    await asyncio.gather(*(create(i) for i in range(args.n)))
    with open(os.path.join(args.dir, "plans.tsv"), "w") as f:
        for row in plans:
            f.write("\t".join(map(str, row)) + "\n")
    open(os.path.join(args.dir, "created"), "w").close()
    await asyncio.gather(*subscribers)
    out.close()
    json.dump(stats, open(os.path.join(args.dir, "client.json"), "w"))
    print(f"client: {len(plans)} plans created ({stats['create_errors']} errors"
          f"{', first: ' + stats['create_error'] if 'create_error' in stats else ''}); "
          f"{stats['subscribed']} of {min(args.subscribe, len(plans))} event streams opened"
          f"{', statuses ' + str(stats['subscribe_status']) if stats['subscribe_status'] else ''}, "
          f"{stats['subscribe_errors']} errors, {stats['subscribe_timeouts']} timeouts", file=sys.stderr)


# --- report -------------------------------------------------------------------------------------


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def log_time_us(stamp):
    """An RFC 3339 timestamp (any number of fractional digits) as epoch microseconds."""
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", stamp)
    base = datetime.fromisoformat(m.group(1) + (m.group(3).replace("Z", "+00:00")))
    return int(base.timestamp()) * 1_000_000 + int(((m.group(2) or "") + "000000")[:6])


def worker_lines(path):
    for line in open(path, errors="replace"):
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                pass


def span_field(e, name):
    for span in [e.get("span", {})] + e.get("spans", []):
        if name in span:
            return span[name]
    return e.get("fields", {}).get(name)


def report(args):
    d = args.dir
    env = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(d, "run.env")) if "=" in line)
    n = int(env["level"])
    plans = [line.rstrip("\n").split("\t") for line in open(os.path.join(d, "plans.tsv"))]
    key_of = {p[1]: p[0] for p in plans}
    first_create = min(int(p[2]) for p in plans) if plans else 0
    # jobs.tsv: job id, plan id, status, attempts (from the database after the run).
    jobs = [line.rstrip("\n").split("\t") for line in open(os.path.join(d, "jobs.tsv"))]
    plan_of_job = {j[0]: j[1] for j in jobs}
    completed = sum(1 for j in jobs if j[2] == "completed")
    ready = int(env["ready"])

    # The fake provider's log: the a-th line for (key, index) is attempt a's module.
    sent = {}
    for line in open(os.path.join(d, "modules.log")):
        at, key, index = line.split()
        sent.setdefault((key, int(index)), []).append(int(at))
    last_index = max((i for _, i in sent), default=0)

    started, finished, durations, commit_of_plan = [], [], [], {}
    to_first_module, last_module_to_commit = [], []
    for e in worker_lines(os.path.join(d, "worker.log")):
        msg = e.get("fields", {}).get("message") or e.get("message")
        fields = e.get("fields", e)
        key = key_of.get(plan_of_job.get(span_field(e, "job.id")))
        if msg == "job started":
            started.append(int(fields["since_created_ms"]))
            if int(span_field(e, "job.attempt") or 1) == 1 and (key, 0) in sent:
                to_first_module.append((sent[(key, 0)][0] - log_time_us(e["timestamp"])) / 1000)
        elif msg == "job finished":
            at = log_time_us(e["timestamp"])
            finished.append(at)
            durations.append(int(fields["duration_ms"]))
            plan = plan_of_job.get(span_field(e, "job.id"))
            if plan and fields.get("status") == "completed":
                commit_of_plan[plan] = at
                if (key, last_index) in sent:
                    last_module_to_commit.append((at - sent[(key, last_index)][-1]) / 1000)
    wall = (max(finished) - first_create) / 1e6 if finished and plans else None

    module_lat, ready_lat, seen = [], [], 0
    by_index = {}
    events_path = os.path.join(d, "events.jsonl")
    for line in open(events_path) if os.path.exists(events_path) else []:
        ev = json.loads(line)
        seen += 1
        if ev["event"] == "module":
            data = json.loads(ev["data"])
            times = sent.get((key_of.get(ev["plan"]), data["index"]), [])
            a = data.get("attempt_number", 1)
            if 1 <= a <= len(times):
                module_lat.append((ev["at"] - times[a - 1]) / 1000)
                by_index.setdefault(data["index"], []).append(module_lat[-1])
        elif ev["event"] == "status":
            data = json.loads(ev["data"])
            if data.get("status") == "ready" and ev["plan"] in commit_of_plan:
                ready_lat.append((ev["at"] - commit_of_plan[ev["plan"]]) / 1000)

    samples = [line.split() for line in open(os.path.join(d, "samples.tsv"))]
    samples = [(float(t), int(proc), int(rss)) for t, proc, _pending, rss in samples if rss.isdigit()]
    peak = max(samples, key=lambda s: (s[1], s[2])) if samples else (0, 0, 0)
    window = float(env["window_s"])
    client = json.load(open(os.path.join(d, "client.json"))) if os.path.exists(os.path.join(d, "client.json")) else {}
    r = {
        "level": n,
        "created": len(plans),
        "ready": ready,
        "jobs_completed": completed,
        "failed_attempts": int(env["failed_attempts"]),
        "wall_s": round(wall, 2) if wall else None,
        "plans_per_s": round(ready / wall, 1) if wall else None,
        "generation_ms_p50": pct(durations, 0.5),
        "generation_ms_p95": pct(durations, 0.95),
        "pickup_ms_p50": pct(started, 0.5),
        "pickup_ms_p95": pct(started, 0.95),
        "pickup_ms_max": max(started) if started else None,
        # Handler start → the fake wrote module 0's last byte (first attempts; 10 s / 12 of it is
        # the fake's schedule), and the last module's last byte → "job finished".
        "start_to_first_module_ms_p50": round(pct(to_first_module, 0.5) or 0),
        "start_to_first_module_ms_p95": round(pct(to_first_module, 0.95) or 0),
        "last_module_to_commit_ms_p50": round(pct(last_module_to_commit, 0.5) or 0),
        "last_module_to_commit_ms_p95": round(pct(last_module_to_commit, 0.95) or 0),
        "peak_in_flight": peak[1],
        "worker_rss_mib_at_peak": round(peak[2] / 1024, 1),
        "worker_hwm_mib": round(int(env["worker_hwm_kb"]) / 1024, 1),
        "worker_cpu_s": round(float(env["worker_cpu_s"]), 2),
        "worker_cores": round(float(env["worker_cpu_s"]) / window, 2),
        "postgres_cpu_s": round(float(env["pg_cpu_s"]), 2),
        "postgres_cores": round(float(env["pg_cpu_s"]) / window, 2),
        "serve_cpu_s": round(float(env["serve_cpu_s"]), 2),
        "fake_llm_cpu_s": round(float(env["llm_cpu_s"]), 2),
        "window_s": round(window, 2),
        "statements_per_s": round(int(env["statements"]) / window),
        "heartbeat_statements": int(env["heartbeat_statements"]),
        "heartbeat_statements_per_s": round(int(env["heartbeat_statements"]) / window, 1),
        "commits_per_s": round(int(env["xact_commit"]) / window),
        "event_streams": client.get("subscribed", 0),
        "events_received": seen,
        "module_events": len(module_lat),
        "module_event_ms_p50": round(pct(module_lat, 0.5), 1) if module_lat else None,
        "module_event_ms_p95": round(pct(module_lat, 0.95), 1) if module_lat else None,
        "module_event_ms_max": round(max(module_lat), 1) if module_lat else None,
        # Per module position: the first modules meet the burst of creates and run starts, the
        # last one the burst of finishing transactions (every plan of a level starts together).
        "module_event_ms_p95_by_index": [round(pct(by_index[i], 0.95), 1) for i in sorted(by_index)],
        "ready_events": len(ready_lat),
        "ready_event_ms_p50": round(pct(ready_lat, 0.5), 1) if ready_lat else None,
        "ready_event_ms_p95": round(pct(ready_lat, 0.95), 1) if ready_lat else None,
    }
    print(json.dumps(r))


def table(args):
    rows = [json.loads(line) for line in open(args.file) if line.startswith("{")]
    f = lambda v: "—" if v is None else f"{v:,}"
    cols = [
        ("in flight", lambda r: f(r["level"])),
        ("ready / created", lambda r: f"{r['ready']:,} / {r['created']:,}"),
        ("failed attempts", lambda r: f(r["failed_attempts"])),
        ("wall (s)", lambda r: f(r["wall_s"])),
        ("plans/s", lambda r: f(r["plans_per_s"])),
        ("generation p50 / p95 (ms)", lambda r: f"{f(r['generation_ms_p50'])} / {f(r['generation_ms_p95'])}"),
        ("pick-up p50 / p95 (ms)", lambda r: f"{f(r['pickup_ms_p50'])} / {f(r['pickup_ms_p95'])}"),
        ("worker RSS at peak in flight (MiB)", lambda r: f"{r['worker_rss_mib_at_peak']} ({r['peak_in_flight']:,})"),
        ("worker VmHWM (MiB)", lambda r: f(r["worker_hwm_mib"])),
        ("worker CPU (s / cores)", lambda r: f"{r['worker_cpu_s']} / {r['worker_cores']}"),
        ("postgres CPU (s / cores)", lambda r: f"{r['postgres_cpu_s']} / {r['postgres_cores']}"),
        ("statements/s (heartbeat/s)", lambda r: f"{f(r['statements_per_s'])} ({r['heartbeat_statements_per_s']})"),
        ("commits/s", lambda r: f(r["commits_per_s"])),
        ("module event p50 / p95 (ms), n", lambda r: f"{f(r['module_event_ms_p50'])} / {f(r['module_event_ms_p95'])}, {r['module_events']:,}"),
        ("commit → ready p50 / p95 (ms), n", lambda r: f"{f(r['ready_event_ms_p50'])} / {f(r['ready_event_ms_p95'])}, {r['ready_events']:,}"),
    ]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(g(r) for _, g in cols) + " |")


def main():
    import argparse
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--api", required=True, help="HOST:PORT of syllabus serve")
    l.add_argument("--tokens", required=True, help="a file of bearer tokens, one a line")
    l.add_argument("--n", type=int, required=True)
    l.add_argument("--level", required=True, help="names the topics: bench-LEVEL-I")
    l.add_argument("--subscribe", type=int, default=100)
    l.add_argument("--subscribe-from", type=int, default=0, help="first plan index followed")
    l.add_argument("--rate", type=float, default=0, help="plans created a second (0: all at once)")
    l.add_argument("--connections", type=int, default=64, help="concurrent creates")
    l.add_argument("--timeout", type=float, default=300)
    l.add_argument("--dir", required=True)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    t = sub.add_parser("table")
    t.add_argument("file")
    args = p.parse_args()
    if args.cmd == "load":
        asyncio.run(load(args))
    elif args.cmd == "report":
        report(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
