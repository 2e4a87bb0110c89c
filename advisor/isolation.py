"""Run user code in a child process, so that nothing it does can hurt us.

User models raise, hang, call `sys.exit`/`os._exit`, print to stdout, run out
of memory or crash in C. `run_isolated("pkg.mod:func", payload)` starts
`python -m advisor.isolation` in a new session with stdout/stderr sent to a
file, calls `func(payload)` there and reads its JSON-able return value back
from a result file; every way the child can go wrong becomes `Outcome.error`,
one line. Our own stdout (tables, JSON) is never touched by the child.

Inside the child, `report_progress(**fields)` sends small JSON events to the
parent's `on_progress` callback (a progress bar for long runs).
"""
from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROGRESS_ENV = "PREC_ADVISOR_PROGRESS"
_OUR_DIR = str(Path(__file__).resolve().parent)
_OUR_ROOT = str(Path(_OUR_DIR).parent)  # so the child imports this same advisor, whatever its cwd
_POLL_S = 0.1


@dataclass
class Outcome:
    """What came back from a child: `value` when `ok`, else a one-line `error`."""

    ok: bool
    value: Any = None
    error: str | None = None
    error_type: str | None = None  # exception class name raised in the child, if any
    returncode: int | None = None
    duration_s: float = 0.0
    output_tail: str = ""  # last lines the child wrote to stdout/stderr, for --verbose


def describe_exception(exc: BaseException) -> str:
    """`Type: first line of message (at file.py:12)`, pointing at the deepest user frame.

    Our own errors meant for the user (class attribute `user_facing = True`)
    pass through as their message alone.
    """
    if isinstance(exc, SystemExit):
        return f"user code called sys.exit({exc.code!r})"
    if getattr(exc, "user_facing", False):
        return str(exc)
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    where = _user_frame(exc.__traceback__)
    return f"{text} (at {where})" if where else text


def _user_frame(tb) -> str | None:
    """The innermost frame in the user's code (advisor.userpaths: not a library, wherever installed)."""
    from advisor.userpaths import is_user_file

    found = None
    for frame in traceback.extract_tb(tb):
        if is_user_file(frame.filename):
            found = f"{Path(frame.filename).name}:{frame.lineno}"
    return found


def report_progress(**fields) -> None:
    """Send one progress event to the parent; a no-op outside an isolated child."""
    path = os.environ.get(_PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(fields) + "\n")


def run_isolated(
    target: str,
    payload: Any,
    *,
    timeout: float,
    memory_limit_bytes: int | None = None,
    on_progress: Callable[[dict], None] | None = None,
    cwd: str | None = None,
) -> Outcome:
    """Call `target` ("module:function") with `payload` in a fresh Python child.

    `payload` and the return value must be JSON-able (NaN/inf allowed). The
    child is killed (its whole process group) after `timeout` seconds; its
    address space is capped at `memory_limit_bytes` where the OS allows.
    """
    with tempfile.TemporaryDirectory(prefix="prec-advisor-") as tmp:
        tmp_path = Path(tmp)
        request = tmp_path / "request.json"
        result, progress, output = (tmp_path / name for name in ("result.json", "progress.jsonl", "output.txt"))
        request.write_text(json.dumps({
            "target": target, "payload": payload, "result": str(result), "memory_limit": memory_limit_bytes,
        }))
        progress.touch()
        env = dict(os.environ, **{_PROGRESS_ENV: str(progress)})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_OUR_ROOT, env.get("PYTHONPATH")]))
        start = time.monotonic()
        with open(output, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "advisor.isolation", str(request)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=cwd, env=env, start_new_session=True,
            )
            try:
                timed_out = _wait(proc, start + timeout, progress, on_progress)
            finally:
                _kill_group(proc)
        outcome = _read_outcome(proc.returncode, result, output, timed_out, timeout, memory_limit_bytes)
        outcome.duration_s = time.monotonic() - start
        return outcome


def _wait(proc, deadline: float, progress: Path, on_progress) -> bool:
    """Wait for the child, forwarding progress events; True if it ran out of time."""
    offset = 0
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            done = True
        except subprocess.TimeoutExpired:
            done = False
        if on_progress is not None:
            offset = _forward_progress(progress, offset, on_progress)
        if done:
            return False
        if time.monotonic() > deadline:
            return True


def _forward_progress(progress: Path, offset: int, on_progress) -> int:
    with open(progress, "rb") as stream:
        stream.seek(offset)
        data = stream.read()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete.splitlines():
        try:
            on_progress(json.loads(line))
        except ValueError:
            pass
    return offset + len(complete)


def _kill_group(proc) -> None:
    """Kill the child and anything it started (dataloader workers), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_outcome(returncode, result: Path, output: Path, timed_out, timeout, memory_limit) -> Outcome:
    tail = _tail(output)
    if timed_out:
        return Outcome(False, error=f"timed out after {timeout:g} s", returncode=returncode, output_tail=tail)
    if result.exists():
        data = json.loads(result.read_text())
        if data["ok"]:
            return Outcome(True, value=data["value"], returncode=returncode, output_tail=tail)
        return Outcome(False, error=data["error"], error_type=data["error_type"], returncode=returncode,
                       output_tail=tail)
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return Outcome(False, error=f"child process killed by {name}{hint}", returncode=returncode, output_tail=tail)
    out_of_memory = memory_limit and re.search(r"MemoryError|out of memory|cannot allocate", tail, re.IGNORECASE)
    limit = f" (memory limit {memory_limit / 2**30:.1f} GiB)" if out_of_memory else ""
    last = tail.strip().splitlines()[-1:] or ["no output"]
    return Outcome(False, error=f"child process exited with status {returncode} before finishing{limit}: {last[0]}",
                   returncode=returncode, output_tail=tail)


def _tail(path: Path, limit: int = 4000) -> str:
    data = path.read_bytes()[-limit:]
    return data.decode("utf-8", errors="replace")


def _child_main(request_path: str) -> None:
    """Child side: apply the memory cap, call the target, write the result file."""
    request = json.loads(Path(request_path).read_text())
    if request["memory_limit"]:
        _limit_memory(request["memory_limit"])
    try:
        module_name, func_name = request["target"].split(":")
        value = getattr(importlib.import_module(module_name), func_name)(request["payload"])
        text = json.dumps({"ok": True, "value": value})
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, SystemExit included
        text = json.dumps({"ok": False, "error": describe_exception(exc), "error_type": type(exc).__name__})
    partial = request["result"] + ".partial"
    Path(partial).write_text(text)
    os.replace(partial, request["result"])  # a child killed mid-write leaves no half-read result
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: user atexit hooks and stuck threads must not hang us


def _limit_memory(limit: int) -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not supported on this OS (e.g. Windows, or macOS for RLIMIT_AS)


if __name__ == "__main__":
    _child_main(sys.argv[1])
