"""Run policy or chains runs as separate operating-system processes, all started at the same moment.

Each process is a fresh Python interpreter that imports the project, waits for a common start time and runs
one policy run (``decide``) or one chains run (``run_chains``) for its own run key. The outcome of every
process (exit code, its result or error) comes back as JSON, so a test can assert on what each one saw.

Also usable by hand: ``python tests/lifecycle/concurrent_runs.py policy <url> <now> <run_key>...``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What each child runs; it prints one JSON line with its result, or the error's type and message.
_CHILD = """
import json, sys, time, traceback
from datetime import datetime
kind, url, now, run_key, start_at, lock_wait = sys.argv[1:7]
from lifecycle.warehouse import Warehouse
warehouse = Warehouse(url)
now = datetime.fromisoformat(now)
time.sleep(max(0.0, float(start_at) - time.time()))
try:
    if kind == "policy":
        from lifecycle.policy import decide
        kwargs = {"lock_wait_s": float(lock_wait)} if lock_wait != "default" else {}
        result = decide(warehouse, run_key, now, **kwargs)
        print(json.dumps({"ok": True, "due_steps": result["due_steps"]}))
    else:
        from lifecycle.chains.engine import run_chains
        figures = run_chains(warehouse, now, run_key)
        print(json.dumps({"ok": True, "due_steps": sum(f.due_steps for f in figures)}))
except Exception as exc:
    chain = [exc] + ([exc.__cause__] if exc.__cause__ is not None else [])
    print(json.dumps({
        "ok": False,
        "error": type(exc).__name__,
        "message": str(exc),
        "causes": [type(e).__name__ for e in chain],
        "traceback": traceback.format_exc(),
    }))
"""


@dataclass
class Outcome:
    run_key: str
    returncode: int
    result: dict
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.result.get("ok", False)


def run_concurrently(
    kind: str,
    url: str,
    now: str,
    run_keys: list[str],
    lock_wait_s: float | None = None,
    pythonpath: list[str] | None = None,
    timeout_s: float = 600,
) -> list[Outcome]:
    """Start one process per run key, release them together, and collect every outcome."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*pythonpath, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # Importing the project takes a few seconds; every child waits for the same start moment.
    start_at = time.time() + 8
    wait = "default" if lock_wait_s is None else str(lock_wait_s)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, kind, url, now, run_key, str(start_at), wait],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for run_key in run_keys
    ]
    outcomes = []
    for run_key, process in zip(run_keys, processes, strict=True):
        stdout, stderr = process.communicate(timeout=timeout_s)
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"ok": False, "error": "no result", "message": stdout}
        outcomes.append(Outcome(run_key, process.returncode, result, stderr))
    return outcomes


if __name__ == "__main__":
    kind, url, now, *keys = sys.argv[1:]
    for outcome in run_concurrently(kind, url, now, keys):
        print(outcome.run_key, json.dumps({k: v for k, v in outcome.result.items() if k != "traceback"}))
