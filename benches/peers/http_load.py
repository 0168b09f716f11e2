#!/usr/bin/env python3
"""Load-test the Flask peer (flask_service/app.py under gunicorn) and, optionally, `irtlab
serve` on 127.0.0.1, and print requests/s and p50/p99 latency for each load.

    python3 benches/peers/http_load.py [--duration 10] [--connections 1,16,64]
                                       [--irtlab PATH | --no-irtlab] [--irtlab-cmd TEMPLATE]

What is measured: each server answers POST /v1/probabilities with two bodies, one θ
({"theta": [0.5]}) and 1,000 θ values (an evenly spaced grid on [-3, 3]), for the same item
bank (benches/peers/results/http/items.csv: 20 items, 10 2PL and 10 3PL). For each body and
each connection count (1, 16, 64 by default) the load generator keeps that many connections
busy for --duration seconds (10 by default) and reports the completed requests per second and
the 50th/99th percentile latency; non-2xx answers and socket errors are counted, not hidden.
A short unreported warm-up precedes each server's runs.

Servers: Flask with gunicorn, 2 sync workers (gunicorn's default worker class; it closes the
connection after each response, so every request reconnects), and irtlab started with
--irtlab-cmd (default "{irtlab} serve --item-parameters {items} --port {port}"); the irtlab
server is skipped, with a note, when the binary is missing or the server does not come up.

Load generator: wrk (Debian package `wrk`), with a Lua script that sets the POST body; else
oha (`cargo install oha`; its -j JSON output is parsed, untested here). Both servers and the
load generator share this machine's cores, which the figures include. Everything runs on
127.0.0.1 with bounded durations and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_IRTLAB, PEERS_DIR, REPO_ROOT, RESULTS_DIR, VENV_DIR, ensure_venv, log, print_table,
)

ENDPOINT = "/v1/probabilities"
DEFAULT_IRTLAB_CMD = "{irtlab} serve --item-parameters {items} --port {port}"


# ---- inputs ------------------------------------------------------------------------------

def write_items_csv(path: Path, n_items: int, seed: int = 7) -> None:
    """Item bank: the first half 2PL (c empty), the rest 3PL; fixed seed."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("item,a,b,c\n")
        for j in range(n_items):
            a = round(rng.lognormvariate(0.0, 0.25), 4)
            b = round(rng.gauss(0.0, 1.0), 4)
            c = "" if j < n_items // 2 else f"{rng.uniform(0.1, 0.25):.4f}"
            f.write(f"item{j + 1:02d},{a},{b},{c}\n")


def request_bodies() -> dict[str, bytes]:
    grid = [round(-3.0 + 6.0 * i / 999, 6) for i in range(1000)]
    return {
        "1 θ": json.dumps({"theta": [0.5]}).encode(),
        "1,000 θ": json.dumps({"theta": grid}).encode(),
    }


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 (the OS picks it; released just before the server binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers -----------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    cmd: list[str]
    port: int
    env: dict[str, str] | None = None
    cwd: Path = REPO_ROOT
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ENDPOINT}"

    def start(self, log_dir: Path, timeout: float, probe_body: bytes) -> str | None:
        """Start the server in its own session; wait until it answers the probe. Returns None
        when ready, else the reason it is not."""
        self.log_path = log_dir / f"{self.name.split()[0].lower()}-server.log"
        log(f"starting {self.name}: {shlex.join(self.cmd)}")
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env,
                                         stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            return f"could not start: {error}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode} (log: {self.log_path})"
            try:
                status, _ = post(self.url, probe_body, timeout=2)
                if status == 200:
                    return None
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        return f"no answer within {timeout:.0f} s (log: {self.log_path})"

    def stop(self) -> None:
        """SIGTERM to the server's own process group (the master and its workers), then
        SIGKILL if it lingers."""
        if not self.proc or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def first_probabilities(payload: bytes) -> list[float] | None:
    """The first row of a probabilities answer, wherever a server puts it (best effort)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    rows = data.get("probabilities") if isinstance(data, dict) else data
    while isinstance(rows, list) and rows and isinstance(rows[0], list):
        if not isinstance(rows[0][0], list):
            return [float(v) for v in rows[0] if isinstance(v, (int, float))]
        rows = rows[0]
    return None


# ---- load generators ---------------------------------------------------------------------

@dataclass
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unparsed wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, body: bytes, connections: int, duration: int, threads: int,
            work_dir: Path) -> LoadResult:
    """wrk with --latency (HdrHistogram percentiles) and a Lua script that sets the POST."""
    script = work_dir / f"post-{len(body)}.lua"
    # The body (JSON numbers only) goes in a Lua long string, so it needs no escaping.
    script.write_text('wrk.method = "POST"\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [==[{body.decode()}]==]\n")
    cmd = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections),
           "-d", f"{duration}s", "--timeout", "30s", "--latency", "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or out.strip()}")
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_wrk_ms(percentiles["50"]), p99_ms=_wrk_ms(percentiles["99"]), requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        # Read errors on a closing (no keep-alive) server are EOFs; counted all the same.
        errors=sum(int(g) for g in socket_errors.groups()) if socket_errors else 0,
    )


def run_oha(url: str, body: bytes, connections: int, duration: int, threads: int,
            work_dir: Path) -> LoadResult:
    """oha -z DURATION -j (JSON summary). Not exercised here: oha was not installed."""
    body_path = work_dir / f"body-{len(body)}.json"
    body_path.write_bytes(body)
    cmd = ["oha", "-z", f"{duration}s", "-c", str(connections), "-m", "POST",
           "-D", str(body_path), "-T", "application/json", "--no-tui", "-j", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"oha failed: {done.stderr.strip()}")
    data = json.loads(done.stdout)
    codes = {int(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
    return LoadResult(
        requests_per_s=data["summary"]["requestsPerSec"],
        p50_ms=data["latencyPercentiles"]["p50"] * 1e3,
        p99_ms=data["latencyPercentiles"]["p99"] * 1e3,
        requests=sum(codes.values()),
        non_2xx=sum(v for k, v in codes.items() if not 200 <= k < 300),
        errors=sum(data.get("errorDistribution", {}).values()),
    )


LOAD_TOOLS = {"wrk": run_wrk, "oha": run_oha}


def pick_load_tool(choice: str) -> str | None:
    if choice != "auto":
        return choice if shutil.which(choice) else None
    return next((name for name in LOAD_TOOLS if shutil.which(name)), None)


# ---- main --------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per load (default 10)")
    parser.add_argument("--connections", default="1,16,64", help="comma-separated (default 1,16,64)")
    parser.add_argument("--warmup", type=int, default=2, help="unreported seconds per server first (0: none)")
    parser.add_argument("--items", type=int, default=20, help="items in the bank (default 20)")
    parser.add_argument("--tool", choices=["auto", *LOAD_TOOLS], default="auto",
                        help="load generator (default: wrk if installed, else oha)")
    parser.add_argument("--threads", type=int, default=1,
                        help="load-generator threads (default 1: the machine has 2 cores to share)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--no-flask", action="store_true", help="do not run the Flask peer")
    parser.add_argument("--irtlab", type=Path, default=Path(DEFAULT_IRTLAB),
                        help="irtlab binary (default: $IRTLAB_BIN or target/release/irtlab)")
    parser.add_argument("--irtlab-cmd", default=DEFAULT_IRTLAB_CMD,
                        help=f"irtlab server command; {{irtlab}}, {{items}} and {{port}} are "
                             f"filled in (default: {DEFAULT_IRTLAB_CMD!r})")
    parser.add_argument("--no-irtlab", action="store_true", help="do not run irtlab")
    parser.add_argument("--startup-timeout", type=float, default=30)
    parser.add_argument("--json-out", type=Path, default=RESULTS_DIR / "http_load.json")
    args = parser.parse_args()
    connection_counts = [int(c) for c in args.connections.split(",") if c.strip()]

    tool = pick_load_tool(args.tool)
    if tool is None:
        log("no load generator: install wrk (apt-get install -y wrk) or oha (cargo install oha)")
        return 2
    ensure_venv()
    work_dir = RESULTS_DIR / "http"
    work_dir.mkdir(parents=True, exist_ok=True)
    items_csv = work_dir / "items.csv"
    write_items_csv(items_csv, args.items)
    bodies = request_bodies()

    servers: list[Server] = []
    if not args.no_flask:
        servers.append(Server(
            "Flask+gunicorn", [str(VENV_DIR / "bin" / "gunicorn"), "--workers", str(args.workers),
                               "--bind", f"127.0.0.1:{(port := free_port())}",
                               "--log-level", "warning", "app:create_app()"],
            port, env=os.environ | {"ITEMS_CSV": str(items_csv)}, cwd=PEERS_DIR / "flask_service"))
    irtlab = args.irtlab if args.irtlab.is_absolute() else REPO_ROOT / args.irtlab
    notes: list[str] = []
    if not args.no_irtlab:
        if irtlab.is_file() and os.access(irtlab, os.X_OK):
            port = free_port()
            cmd = shlex.split(args.irtlab_cmd.format(irtlab=shlex.quote(str(irtlab)),
                                                     items=shlex.quote(str(items_csv)), port=port))
            servers.append(Server("irtlab serve", cmd, port))
        else:
            notes.append(f"irtlab skipped: no executable at {irtlab}")

    rows, raw = [], []
    with tempfile.TemporaryDirectory(prefix="http_load-") as tmp:
        tmp_dir = Path(tmp)
        for server in servers:
            try:
                problem = server.start(work_dir, args.startup_timeout, bodies["1 θ"])
                if problem:
                    notes.append(f"{server.name} skipped: {problem}")
                    continue
                # Check both bodies once and show the first probabilities, to compare servers.
                for label, body in bodies.items():
                    status, payload = post(server.url, body, timeout=30)
                    first = first_probabilities(payload)
                    shown = ", ".join(f"{p:.4f}" for p in (first or [])[:4])
                    log(f"  {server.name} {label}: HTTP {status}, {len(payload):,} bytes, "
                        f"first θ: [{shown}{', ...' if first and len(first) > 4 else ''}]")
                if args.warmup > 0:
                    try:
                        LOAD_TOOLS[tool](server.url, bodies["1 θ"], 16, args.warmup, args.threads, tmp_dir)
                    except (RuntimeError, subprocess.TimeoutExpired) as error:
                        log(f"  warm-up failed: {error}")
                for label, body in bodies.items():
                    for connections in connection_counts:
                        log(f"  {server.name}: {label}, {connections} connection(s), {args.duration:g} s ...")
                        try:
                            result = LOAD_TOOLS[tool](server.url, body, connections, args.duration,
                                                      args.threads, tmp_dir)
                        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
                            rows.append([server.name, label, str(connections), "-", "-", "-", "-", str(error)[:60]])
                            continue
                        rows.append([server.name, label, str(connections),
                                     f"{result.requests_per_s:,.0f}", f"{result.p50_ms:.2f}",
                                     f"{result.p99_ms:.2f}", f"{result.requests:,}",
                                     f"{result.non_2xx} non-2xx, {result.errors} socket errors"])
                        raw.append({"server": server.name, "body": label, "connections": connections,
                                    "duration_s": args.duration, **vars(result)})
            finally:
                server.stop()

    print()
    print(f"POST {ENDPOINT}, {args.items} items, {args.duration:g} s per load, load generator: "
          f"{tool} ({args.threads} thread(s)), {os.cpu_count()} cores shared by all")
    print_table(["server", "body", "conns", "req/s", "p50 ms", "p99 ms", "requests", "problems"], rows)
    for note in notes:
        print(f"NOTE: {note}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(raw, indent=2) + "\n")
    print(f"raw figures: {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
