"""run_isolated: every way user code can misbehave becomes a one-line error."""
import textwrap
import time

import pytest

from advisor.isolation import run_isolated

USER_CODE = textwrap.dedent("""\
    import os, sys, time

    def ok(payload):
        return {"double": payload * 2, "nan": float("nan")}

    def noisy(payload):
        print("user output on stdout")
        os.write(1, b"raw fd write\\n")
        return "fine"

    def boom(payload):
        raise ValueError("bad shapes\\nsecond line")

    def leave(payload):
        sys.exit(3)

    def hard_exit(payload):
        os._exit(7)

    def hang(payload):
        time.sleep(3600)

    def suicide(payload):
        os.kill(os.getpid(), 9)

    def hog(payload):
        return len(bytearray(payload))

    def not_json(payload):
        return object()

    def progress(payload):
        from advisor.isolation import report_progress
        for step in range(3):
            report_progress(step=step)
        return None
""")


@pytest.fixture
def call(tmp_path):
    (tmp_path / "usercode.py").write_text(USER_CODE)

    def run(name, payload=None, **options):
        options.setdefault("timeout", 300)  # a backstop: these calls end by themselves
        return run_isolated(f"usercode:{name}", payload, cwd=str(tmp_path), **options)
    return run


def test_returns_the_value_nan_included(call):
    outcome = call("ok", 21)
    assert outcome.ok and outcome.error is None
    assert outcome.value["double"] == 42 and outcome.value["nan"] != outcome.value["nan"]


def test_user_stdout_never_reaches_ours(call, capfd):
    outcome = call("noisy")
    assert outcome.ok and outcome.value == "fine"
    assert capfd.readouterr().out == ""
    assert "user output on stdout" in outcome.output_tail and "raw fd write" in outcome.output_tail


def test_exception_is_one_line_naming_the_user_frame(call):
    outcome = call("boom")
    assert not outcome.ok and outcome.error_type == "ValueError"
    assert outcome.error == "ValueError: bad shapes (at usercode.py:12)"


def test_sys_exit(call):
    assert call("leave").error == "user code called sys.exit(3)"


def test_os_exit(call):
    outcome = call("hard_exit")
    assert outcome.returncode == 7
    assert outcome.error.startswith("child process exited with status 7 before finishing")


def test_killed_by_signal(call):
    assert call("suicide").error == "child process killed by SIGKILL (out of memory?)"


def test_hang_times_out(call):
    start = time.monotonic()
    outcome = call("hang", timeout=2)
    assert outcome.error == "timed out after 2 s"
    assert time.monotonic() - start < 600  # killed: the sleep would have lasted an hour


def test_memory_limit(call):
    outcome = call("hog", 2 * 2**30, memory_limit_bytes=1 * 2**30)
    assert not outcome.ok and outcome.error.startswith("MemoryError")


def test_result_must_be_json(call):
    outcome = call("not_json")
    assert outcome.error.startswith("TypeError: Object of type object is not JSON serializable")


def test_progress_events_reach_the_parent(call):
    events = []
    assert call("progress", on_progress=events.append).ok
    assert events == [{"step": 0}, {"step": 1}, {"step": 2}]
