#!/usr/bin/env python3
"""Load and report for scripts/bench-provider-limits.sh (issue #22).

`load`: each user (tokens, one per line) imports one ready plan (POST /plans with `modules`: no
model call), then the backlog is queued through the API as fast as 16 connections allow: per user
PLANS plan generations, FLASHCARDS flashcards jobs and SKILL_TREES skill-tree jobs on the imported
plan. After `--late-after` seconds one more user (the last token) creates its first plan. Writes
the times to a JSON file.

`report`: reads the fake provider's log (`EPOCH_MS STATUS TOKENS SCHEMA` per request) and a CSV of
the jobs' figures from the database, and prints one JSON line of figures.
"""

import argparse
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


PLAN = {"skill_level": "beginner", "weekly_hours": 5, "learning_style": "mixed"}
IMPORTED = [{"title": f"Imported module {m}", "estimated_minutes": 120,
             "tasks": [{"title": f"Imported task {m}.{t}", "estimated_minutes": 40} for t in range(1, 4)]}
            for m in range(1, 4)]


def load(args):
    tokens = [t.strip() for t in open(args.tokens) if t.strip()]
    backlog_users, late = tokens[:-1], tokens[-1]
    base = args.base.rstrip("/") + "/api/v1"

    def must(status, body, want, what):
        if status != want:
            sys.exit(f"{what}: expected {want}, got {status}: {body}")
        return body

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        seeds = list(pool.map(lambda iu: must(*call(base, iu[1], "POST", "/plans", {
            **PLAN, "topic": f"Imported curriculum {iu[0]}", "modules": IMPORTED}), 201, "import"),
            enumerate(backlog_users)))
        requests = []
        for u, (token, seed) in enumerate(zip(backlog_users, seeds)):
            for i in range(args.plans):
                requests.append((token, "/plans", {**PLAN, "topic": f"Backlog topic {u} {i}"}, 201))
            for _ in range(args.flashcards):
                requests.append((token, f"/plans/{seed['id']}/flashcards", {"max_cards": 3}, 202))
            for _ in range(args.skill_trees):
                requests.append((token, f"/plans/{seed['id']}/skill-tree", None, 202))
        # Round robin between users, as a crowd would queue: user 0's first, user 1's first, …
        requests.sort(key=lambda r: backlog_users.index(r[0]))
        started = time.time()
        for status, body in pool.map(lambda r: call(base, r[0], "POST", r[1], r[2]), requests):
            if status not in (201, 202):
                sys.exit(f"queueing the backlog: got {status}: {body}")
        queued = time.time()
    time.sleep(max(0.0, started + args.late_after - time.time()))
    late_at = time.time()
    plan = must(*call(base, late, "POST", "/plans", {**PLAN, "topic": "A late learner's first plan"}),
                201, "late plan")
    json.dump({"started": started, "queued": queued, "late_at": late_at, "late_plan": plan["id"],
               "jobs": len(requests)}, open(args.out, "w"))


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def most_in_window(events, window_ms):
    """The most requests and the most tokens accepted in any span of window_ms (sliding)."""
    best_n = best_t = 0
    j = 0
    tokens = 0
    for i, (at, t) in enumerate(events):
        tokens += t
        while events[j][0] <= at - window_ms:
            tokens -= events[j][1]
            j += 1
        best_n = max(best_n, i - j + 1)
        best_t = max(best_t, tokens)
    return best_n, best_t


def report(args):
    lines = [line.split() for line in open(args.llm_log) if line.strip()]
    accepted = sorted((int(ms), int(tok)) for ms, st, tok, _ in lines if st == "200")
    refused = sum(1 for _, st, _, _ in lines if st == "429")
    window_ms = args.window_ms
    most_n, most_t = most_in_window(accepted, window_ms) if accepted else (0, 0)
    span_ms = (accepted[-1][0] - accepted[0][0]) if len(accepted) > 1 else 0
    # Steady-state throughput: tokens and requests accepted per window from the first accepted
    # call to the last (the tail's last window counts in full).
    windows = max(1.0, span_ms / window_ms)
    times = json.load(open(args.times))
    jobs = [line.rstrip("\n").split(",") for line in open(args.jobs_csv) if line.strip()]
    # id,user_id,job_type,status,created_ms,first_call_ms,rate_limit_attempts
    waits = []
    late_wait = None
    failed = {}
    rate_limited = 0
    for jid, user, jtype, status, created, first_call, rl in jobs:
        rate_limited += int(rl or 0)
        if status == "failed":
            failed[jtype] = failed.get(jtype, 0) + 1
        if first_call:
            wait = (float(first_call) - float(created)) / 1000
            if user == args.late_user:
                late_wait = wait
            else:
                waits.append(wait)
    print(json.dumps({
        "jobs": len(jobs),
        "completed": sum(1 for j in jobs if j[3] == "completed"),
        "failed": failed,
        "provider_calls": len(accepted) + refused,
        "provider_429": refused,
        "rate_limit_attempts": rate_limited,
        "most_requests_in_window": most_n,
        "most_tokens_in_window": most_t,
        "requests_per_window": round(len(accepted) / windows, 1),
        "tokens_per_window": round(sum(t for _, t in accepted) / windows),
        "run_s": round(span_ms / 1000, 1),
        "backlog_wait_p50_s": round(pct(waits, 0.5), 1) if waits else None,
        "backlog_wait_p95_s": round(pct(waits, 0.95), 1) if waits else None,
        "late_wait_s": None if late_wait is None else round(late_wait, 2),
        "late_arrived_s": round(times["late_at"] - times["started"], 1),
        "queue_s": round(times["queued"] - times["started"], 1),
    }))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    lo = sub.add_parser("load")
    lo.add_argument("--base", required=True)
    lo.add_argument("--tokens", required=True)
    lo.add_argument("--plans", type=int, default=14)
    lo.add_argument("--flashcards", type=int, default=3)
    lo.add_argument("--skill-trees", type=int, default=3)
    lo.add_argument("--late-after", type=float, default=20.0)
    lo.add_argument("--out", required=True)
    re_ = sub.add_parser("report")
    re_.add_argument("--llm-log", required=True)
    re_.add_argument("--jobs-csv", required=True)
    re_.add_argument("--times", required=True)
    re_.add_argument("--window-ms", type=int, required=True)
    re_.add_argument("--late-user", required=True)
    args = parser.parse_args()
    load(args) if args.cmd == "load" else report(args)


if __name__ == "__main__":
    main()
