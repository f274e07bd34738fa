"""``pooling-xfw`` commands (and the docs' scripts) run for the tests in one warm process, as
``python -m pooling_xfw`` runs them (``cli.main``, its exit code, what it prints on stdout and
stderr), so that the hundreds of commands the tests run share one pool of started workers
instead of each starting every framework again.

A test that needs a process of its own (a variable of its own, a umask, the workers' first
start said on stderr, a signal) runs ``python -m pooling_xfw`` itself.  The driver is started
on first use, and again for another environment (the previous one stopped first: one driver
at a time, each holding a worker of every framework), and stopped when the tests end; a command
that outlives its timeout, or a driver that died, fails that test and the next command starts
a new driver.
"""
from __future__ import annotations

import atexit
import json
import select
import subprocess
import sys
from pathlib import Path

#: the driver: requests (argv, cwd) as JSON lines on stdin, replies on the stdout it had when it
#: started; its own fd 1 then joins stderr, so that a stray write there never breaks a reply
DRIVER = r"""
import contextlib, io, json, os, runpy, sys, traceback
replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
from pooling_xfw.cli import main
for line in sys.stdin:
    request = json.loads(line)
    os.chdir(request["cwd"])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if "script" in request:  # python SCRIPT
                sys.argv = [request["script"]]
                runpy.run_path(request["script"], run_name="__main__")
                code = 0
            else:
                code = main(request["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    replies.write(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue()}) + "\n")
    replies.flush()
"""

_drivers: dict[tuple, subprocess.Popen] = {}


def run(argv: list[str], cwd: Path, env: dict, timeout: float = 900
        ) -> subprocess.CompletedProcess:
    """``pooling-xfw ARGV`` in ``cwd``, in the warm driver of ``env``."""
    return _ask({"argv": list(argv), "cwd": str(cwd)}, env, timeout,
                [sys.executable, "-m", "pooling_xfw", *argv])


def run_script(script: Path, cwd: Path, env: dict, timeout: float = 900
               ) -> subprocess.CompletedProcess:
    """``python SCRIPT`` in ``cwd``, in the warm driver of ``env`` (an exception: exit 1, its
    traceback on stderr)."""
    return _ask({"script": str(script), "cwd": str(cwd)}, env, timeout,
                [sys.executable, str(script)])


def _ask(request: dict, env: dict, timeout: float, shown: list[str]
         ) -> subprocess.CompletedProcess:
    # pytest's own variables (the test running) change with every test: not the driver's
    key = tuple(sorted((k, v) for k, v in env.items() if not k.startswith("PYTEST_")))
    if key not in _drivers:
        stop()  # one driver at a time: each holds a worker of every framework
    driver = _drivers.get(key)
    if driver is None or driver.poll() is not None:
        driver = _drivers[key] = subprocess.Popen(
            [sys.executable, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env, cwd=request["cwd"])
    driver.stdin.write(json.dumps(request) + "\n")
    driver.stdin.flush()
    ready, _, _ = select.select([driver.stdout], [], [], timeout)
    line = driver.stdout.readline() if ready else ""
    if not line:
        driver.kill()
        driver.wait()
        raise AssertionError(f"{' '.join(shown)}: no reply within {timeout:.0f} s (exit "
                             f"{driver.returncode} of the warm driver)")
    reply = json.loads(line)
    return subprocess.CompletedProcess(shown, reply["code"], reply["out"], reply["err"])


@atexit.register
def stop() -> None:
    """Every driver ended (their workers with them)."""
    for driver in _drivers.values():
        if driver.poll() is None:
            driver.stdin.close()
            try:
                driver.wait(timeout=60)
            except subprocess.TimeoutExpired:
                driver.kill()
    _drivers.clear()


__all__ = ["run", "run_script", "stop", "DRIVER"]
