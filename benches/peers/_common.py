"""Shared helpers of the peer benchmarks: paths, the pinned virtual environment, timing a
whole process, and printing tables.

Standard library only: the drivers (compare.py, http_load.py) run under any python3 >= 3.11
and start everything that needs numpy/mirt/Flask with the venv's interpreter.
"""

from __future__ import annotations

import hashlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent
REPO_ROOT = PEERS_DIR.parent.parent
VENV_DIR = PEERS_DIR / ".venv"
VENV_PYTHON = VENV_DIR / "bin" / "python"
REQUIREMENTS = PEERS_DIR / "requirements.txt"
DATA_DIR = PEERS_DIR / "data"
RESULTS_DIR = PEERS_DIR / "results"

# irtlab binary: --irtlab, else $IRTLAB_BIN, else target/release/irtlab under the repo root.
DEFAULT_IRTLAB = os.environ.get("IRTLAB_BIN", str(REPO_ROOT / "target" / "release" / "irtlab"))


def log(message: str) -> None:
    """Progress messages go to stderr so that stdout holds only the results tables."""
    print(message, file=sys.stderr, flush=True)


def ensure_venv() -> Path:
    """Create benches/peers/.venv with the pinned requirements, once.

    A stamp with the hash of requirements.txt is kept in the venv; when the pins change the
    packages are installed again. Returns the venv's python.
    """
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV_DIR / ".requirements.sha256"
    if VENV_PYTHON.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return VENV_PYTHON
    if not VENV_PYTHON.exists():
        log(f"creating {VENV_DIR.relative_to(REPO_ROOT)} ...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    log("installing the pinned requirements (mirt, numpy, Flask, gunicorn, jsonschema) ...")
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        check=True,
    )
    stamp.write_text(wanted + "\n")
    return VENV_PYTHON


@dataclass
class RunResult:
    """One timed run of a whole process."""

    wall: float  # seconds from spawn to exit (time.perf_counter)
    user: float  # CPU seconds in user mode (the process and the children it reaped)
    system: float  # CPU seconds in kernel mode
    max_rss_mb: float  # peak resident set size, MiB
    returncode: int
    timed_out: bool = False


def run_timed(cmd: list[str], stdout_path: Path, stderr_path: Path, cwd: Path = REPO_ROOT,
              timeout: float | None = None, env: dict[str, str] | None = None) -> RunResult:
    """Run `cmd` once as its own process and measure it from spawn to exit.

    This is `time.perf_counter()` around `subprocess.run(cmd)`, done with Popen + os.wait4 so
    that the kernel also reports this child's CPU time and peak memory. Output goes to files,
    not pipes, so reading it costs the measured process nothing. The child gets its own
    session; on timeout its process group (the child and anything it started) is killed.
    """
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            wall = time.perf_counter() - start
            if timer:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return RunResult(wall=wall, user=usage.ru_utime, system=usage.ru_stime,
                     max_rss_mb=usage.ru_maxrss / 1024.0, returncode=proc.returncode,
                     timed_out=timed_out.is_set())


def summarize(times: list[float]) -> tuple[float, float]:
    """(min, median) of repeated wall times."""
    return min(times), statistics.median(times)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain, aligned text table (right-aligned numbers, left-aligned text)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        parts = []
        for cell, width in zip(cells, widths):
            text = str(cell)
            numeric = text.replace(".", "", 1).replace("-", "", 1).replace(",", "").isdigit()
            parts.append(text.rjust(width) if numeric else text.ljust(width))
        return "  ".join(parts).rstrip()

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))
