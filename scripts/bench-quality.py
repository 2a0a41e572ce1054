"""Generates plans on 20 varied topics through a running `syllabus serve` (stdlib only) and writes
one JSON line per plan: topic, final status, seconds, its attempts (oldest first) and modules.

Used by scripts/bench-quality.sh. Environment: SMOKE_BASE_URL, SMOKE_TOKEN (as for
scripts/smoke-local-llm.py, whose HTTP helpers it reuses).
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "smoke", os.path.join(os.path.dirname(os.path.abspath(__file__)), "smoke-local-llm.py"))
smoke = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smoke)

# Varied on purpose: sciences, languages, crafts, tools, sport; the first two are the issue's.
TOPICS = [
    "Photosynthesis for a high-school biology exam",
    "Linear algebra for machine learning",
    "Rust ownership and borrowing",
    "Spanish for travel",
    "Espresso at home",
    "Git for beginners",
    "A/B testing statistics",
    "Watercolor painting",
    "Kubernetes basics",
    "World War I history",
    "Python data analysis with pandas",
    "Music theory for guitar",
    "Personal finance and budgeting",
    "Sourdough bread baking",
    "Public speaking",
    "Chess openings",
    "Japanese hiragana",
    "SQL joins",
    "First aid basics",
    "Marathon training",
]


def body(i):
    return {
        "topic": TOPICS[i % len(TOPICS)],
        "skill_level": smoke.LEVELS[i % len(smoke.LEVELS)],
        "weekly_hours": 3 + i % 8,
        "learning_style": smoke.STYLES[i % len(smoke.STYLES)],
    }


def one(i, limit_s):
    status, plan = smoke.call("POST", "/plans", body(i))
    smoke.expect(status, plan, 201, "POST /plans")
    done, seconds = smoke.wait_plan(plan["id"], limit_s)
    attempts = list(reversed(smoke.attempts_of(plan["id"])))
    return {
        "topic": done["topic"],
        "status": done["status"],
        "seconds": round(seconds, 1),
        "attempts": [{"number": a["number"], "classification": a["classification"]} for a in attempts],
        "modules": done["modules"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--inflight", type=int, default=2)
    parser.add_argument("--limit", type=float, default=3600.0, help="seconds to wait for one plan")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    todo = list(range(args.plans))
    lock = threading.Lock()

    def worker(out):
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            row = one(i, args.limit)
            with lock:
                out.write(json.dumps(row) + "\n")
                out.flush()
                classes = ",".join(a["classification"] or "success" for a in row["attempts"])
                print(f"{row['topic'][:40]:<40} {row['status']:<7} {row['seconds']:6.1f} s  [{classes}]", flush=True)

    with open(args.out, "w", encoding="utf-8") as out:
        threads = [threading.Thread(target=worker, args=(out,)) for _ in range(args.inflight)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
