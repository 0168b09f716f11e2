#!/usr/bin/env python3
"""Time irtlab against the Python `mirt` package (1.2, pinned) on the same simulated data.

    python3 benches/peers/compare.py [case ...] [--reps N] [--irtlab PATH] [--dry-run]

Cases (default: all):
  a  2PL fit + standard errors + EAP scores, 10,000 persons x 50 items
  b  graded response model fit + SEs + EAP scores, 10,000 x 20 items, 5 categories
  c  2PL fit + S-X2 item fit + M2, 10,000 x 50 items
  d  likelihood-ratio DIF, 2PL, 20,000 x 20 items, 2 groups (items 1-3 have DIF)

What is measured: for each tool, the wall time of the whole process, from spawn to exit
(interpreter start and imports for Python, reading the CSV, the computation, writing
outputs), repeated --reps times with the two tools interleaved; the table reports the minimum
and the median, plus the median CPU time (user + system, which shows how many cores a tool
kept busy) and the peak resident memory. The key numbers (log-likelihood, M2, LR statistics)
are printed so that the two tools' answers can be compared; full outputs are kept under
benches/peers/results/<case>/.

The first run creates benches/peers/.venv with the pinned requirements and writes the data
sets to benches/peers/data/ (fixed seed). The irtlab binary is --irtlab, else $IRTLAB_BIN, else
target/release/irtlab under the repository root; when it is missing the irtlab half is skipped
(its command lines are still printed). Standard library only; run from anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATA_DIR, DEFAULT_IRTLAB, PEERS_DIR, REPO_ROOT, RESULTS_DIR, VENV_PYTHON, RunResult,
    ensure_venv, log, print_table, run_timed, summarize,
)

EXIT_UNSUPPORTED = 3  # what the mirt_*.py scripts return when mirt lacks a function


@dataclass
class Case:
    key: str
    title: str
    data: str  # file name under data/
    python: list[str]  # script and arguments; {data} and {out} are filled in
    irtlab: list[str]  # arguments after the binary
    default_reps: int = 3


# The command lines of both halves. {data} is the CSV, {out} the case's results folder.
CASES = {
    "a": Case(
        "a", "2PL fit + SEs + EAP, 10,000 x 50", "2pl_10000x50.csv",
        ["mirt_fit_2pl.py", "{data}", "--scores-out", "{out}/mirt_scores.csv"],
        ["fit", "{data}", "--id", "id", "--scores-out", "{out}/irtlab_scores.csv"],
    ),
    "b": Case(
        "b", "graded fit + SEs + EAP, 10,000 x 20 (5 cat.)", "graded_10000x20.csv",
        ["mirt_fit_graded.py", "{data}", "--scores-out", "{out}/mirt_scores.csv"],
        ["fit", "{data}", "--id", "id", "--model", "graded", "--scores-out",
         "{out}/irtlab_scores.csv"],
    ),
    "c": Case(
        "c", "2PL fit + S-X2 item fit + M2, 10,000 x 50", "2pl_10000x50.csv",
        ["mirt_itemfit_m2.py", "{data}"],
        ["fit", "{data}", "--id", "id", "--diagnostics", "--json"],
    ),
    "d": Case(
        "d", "LR DIF, 2PL, 20,000 x 20, 2 groups", "dif_20000x20.csv",
        ["mirt_dif_lr.py", "{data}", "--group", "group", "--focal", "focal"],
        ["dif", "{data}", "--id", "id", "--group", "group", "--focal", "focal", "--method", "lr",
         "--p-adjust", "none", "--json"],
        default_reps=1,  # mirt takes minutes here
    ),
}


@dataclass
class Outcome:
    """All runs of one tool on one case."""

    status: str = "not run"  # ok | failed | unsupported | skipped | timeout | dry run
    runs: list[RunResult] = field(default_factory=list)
    key_numbers: str = ""
    note: str = ""


def fill(template: list[str], data: Path, out: Path) -> list[str]:
    return [arg.format(data=data, out=out) for arg in template]


# ---- key numbers -------------------------------------------------------------------------

_INTERESTING = re.compile(r"log_?lik|loglik|^m2|m2$|statistic|^lr|chi|rmsea", re.IGNORECASE)


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value[:3]:  # first rows of a per-item table are enough for a glance
            label = item.get("item", item.get("name", ""))
            yield from _flatten(item, f"{prefix}[{label}]")
    else:
        yield prefix, value


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ",".join(_fmt(v) for v in value[:4]) + ("...]" if len(value) > 4 else "]")
    return str(value)


def mirt_key_numbers(stdout: str) -> str:
    """The SUMMARY line of a mirt_*.py script, less its timing fields."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("SUMMARY "):
            values = json.loads(line[len("SUMMARY "):])
            return " ".join(f"{k}={_fmt(v)}" for k, v in values.items() if not k.endswith("_s"))
    return ""


def irtlab_key_numbers(stdout: str) -> str:
    """Best effort: log-likelihood/M2/LR-like fields of irtlab's JSON, else of its text."""
    text = stdout.strip()
    candidates = [text] + [line for line in reversed(text.splitlines()) if line.startswith("{")]
    for candidate in candidates:
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict) and isinstance(parsed.get("model_fit"), dict):
            # Fit statistics (case c): the same numbers as mirt_itemfit_m2.py's summary.
            fit, first = parsed["model_fit"], (parsed.get("items") or [{}])[0]
            picked = [("logLik", parsed.get("log_likelihood")),
                      (fit.get("statistic", "M2"), fit.get("value")), ("M2_df", fit.get("df")),
                      ("M2_p", fit.get("p")), ("sx2_1", first.get("s_x2")),
                      ("sx2_df_1", first.get("s_x2_df")),
                      ("misfitting", len(parsed.get("misfitting_items") or []))]
            return " ".join(f"{k}={_fmt(v)}" for k, v in picked)
        picked = [(k, v) for k, v in _flatten(parsed)
                  if _INTERESTING.search(k.split(".")[-1]) and not isinstance(v, (dict, list))]
        return " ".join(f"{k}={_fmt(v)}" for k, v in picked[:6])
    match = re.search(r"log[- _]?lik\w*\s*[:=]?\s*(-?\d+(?:\.\d+)?)", text, re.IGNORECASE)
    return f"logLik={match.group(1)}" if match else ""


# ---- running -----------------------------------------------------------------------------

def run_case(case: Case, reps: int, tools: list[str], irtlab: Path, irtlab_ok: bool,
             timeout: float, dif_jobs: int, dry_run: bool) -> dict[str, Outcome]:
    data = DATA_DIR / case.data
    out = RESULTS_DIR / case.key
    python_cmd = [str(VENV_PYTHON), str(PEERS_DIR / case.python[0])] + fill(case.python[1:], data, out)
    if case.key == "d" and dif_jobs != 1:
        python_cmd += ["--jobs", str(dif_jobs)]
    commands = {"mirt": python_cmd, "irtlab": [str(irtlab)] + fill(case.irtlab, data, out)}
    outcomes = {tool: Outcome() for tool in tools}

    show = print if dry_run else log  # a dry run's command lines are its output
    show(f"\n== case {case.key}: {case.title}")
    for tool in tools:
        show(f"   {tool}: {shlex.join(commands[tool])}")
    if dry_run:
        for outcome in outcomes.values():
            outcome.status = "dry run"
        return outcomes
    out.mkdir(parents=True, exist_ok=True)
    if "irtlab" in outcomes and not irtlab_ok:
        outcomes["irtlab"].status = "skipped"
        outcomes["irtlab"].note = f"no executable at {irtlab}"

    # Interleave the tools within each repetition so slow drifts (other load, thermal) hit both.
    for rep in range(reps):
        for tool, outcome in outcomes.items():
            if outcome.status not in ("not run", "ok"):
                continue
            stdout_path, stderr_path = out / f"{tool}.stdout", out / f"{tool}.stderr"
            log(f"   {tool} run {rep + 1}/{reps} ...")
            result = run_timed(commands[tool], stdout_path, stderr_path, timeout=timeout)
            stdout = stdout_path.read_text(errors="replace")
            if result.timed_out:
                outcome.status, outcome.note = "timeout", f"killed after {timeout:.0f} s"
            elif tool == "mirt" and result.returncode == EXIT_UNSUPPORTED:
                outcome.status = "unsupported"
                outcome.note = stdout.strip().splitlines()[-1] if stdout.strip() else ""
                log(f"   Python mirt cannot do case {case.key}: {outcome.note}; skipped")
            elif result.returncode != 0:
                outcome.status = "failed"
                tail = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
                outcome.note = f"exit {result.returncode}: " + " | ".join(tail)
                log(f"   {tool} failed ({outcome.note}); see {stderr_path}")
            else:
                outcome.status = "ok"
                outcome.runs.append(result)
                outcome.key_numbers = (mirt_key_numbers if tool == "mirt" else irtlab_key_numbers)(stdout)
                log(f"   {tool}: {result.wall:.2f} s  {outcome.key_numbers}")
    return outcomes


def ensure_data(dry_run: bool) -> None:
    """Write the simulated CSV files once (gendata.py is idempotent; --force rewrites)."""
    if dry_run:
        return
    subprocess.run([str(VENV_PYTHON), str(PEERS_DIR / "gendata.py"), "--out", str(DATA_DIR)],
                   check=True)


def irtlab_version(irtlab: Path) -> str:
    try:
        done = subprocess.run([str(irtlab), "--version"], capture_output=True, text=True, timeout=30)
        return done.stdout.strip() or done.stderr.strip()
    except OSError as error:
        return f"not runnable ({error})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", metavar="case", help="a, b, c and/or d (default: all)")
    parser.add_argument("--reps", type=int, help="runs per tool (default: 3; 1 for case d)")
    parser.add_argument("--irtlab", type=Path, default=Path(DEFAULT_IRTLAB),
                        help="irtlab binary (default: $IRTLAB_BIN or target/release/irtlab)")
    parser.add_argument("--tools", default="mirt,irtlab", help="comma-separated: mirt, irtlab")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    parser.add_argument("--mirt-dif-jobs", type=int, default=1,
                        help="mirt's n_jobs for the DIF refits (default 1, mirt's default)")
    parser.add_argument("--dry-run", action="store_true", help="print the command lines only")
    parser.add_argument("--json-out", type=Path, default=RESULTS_DIR / "compare.json",
                        help="raw timings (default benches/peers/results/compare.json)")
    args = parser.parse_args()
    unknown = [key for key in args.cases if key not in CASES]
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)}; choose from {', '.join(CASES)}")
    cases = [CASES[key] for key in (args.cases or list(CASES))]
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    if not set(tools) <= {"mirt", "irtlab"}:
        parser.error("--tools takes mirt and/or irtlab")
    irtlab = args.irtlab if args.irtlab.is_absolute() else (REPO_ROOT / args.irtlab)
    irtlab_ok = irtlab.is_file() and os.access(irtlab, os.X_OK)

    if not args.dry_run:
        ensure_venv()
    ensure_data(args.dry_run)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)

    log(f"cores: {os.cpu_count()}  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    log(f"irtlab: {irtlab} ({irtlab_version(irtlab) if irtlab_ok else 'missing: irtlab half skipped'})")

    table, raw = [], {}
    for case in cases:
        reps = args.reps or case.default_reps
        outcomes = run_case(case, reps, tools, irtlab, irtlab_ok, args.timeout,
                            args.mirt_dif_jobs, args.dry_run)
        for tool, outcome in outcomes.items():
            walls = [run.wall for run in outcome.runs]
            if walls:
                low, median = summarize(walls)
                cpu = statistics.median(run.user + run.system for run in outcome.runs)
                rss = max(run.max_rss_mb for run in outcome.runs)
                cells = [f"{low:.2f}", f"{median:.2f}", f"{cpu:.2f}", f"{rss:.0f}"]
            else:
                cells = ["-"] * 4
            detail = outcome.key_numbers if outcome.status == "ok" else outcome.note
            table.append([case.key, tool, outcome.status, str(len(walls)), *cells, detail])
            raw[f"{case.key}/{tool}"] = {
                "status": outcome.status, "note": outcome.note, "key_numbers": outcome.key_numbers,
                "runs": [vars(run) for run in outcome.runs],
            }

    if args.dry_run:
        return 0
    print()
    print_table(["case", "tool", "status", "runs", "min s", "median s", "cpu s", "peak MiB",
                 "key numbers / note"], table)
    for case in cases:
        print(f"  {case.key}: {case.title}")
    unsupported = [row for row in table if row[2] == "unsupported"]
    for row in unsupported:
        print(f"NOTE: case {row[0]} skipped: Python mirt 1.2 has no function for it ({row[-1]})")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(raw, indent=2) + "\n")
    print(f"raw timings: {args.json_out}; outputs: {RESULTS_DIR}/<case>/")
    failed = any(row[2] in ("failed", "timeout") for row in table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
