"""What proctor itself costs: per-task engine overhead, memory of a large map, start-up time.

Run from the repository root (or with `make bench`):

    python bench/overhead.py            # full run, about 10 s on 2 cores
    python bench/overhead.py --quick    # smaller sizes, a smoke run of a few seconds
    python bench/overhead.py --json out.json

Every task body is trivial (`x + 1`, `2 * x`), so each figure is the engine's own cost: building
a node, resolving its arguments, creating its run context and State, handing it to the executor
and collecting the result. The figures, each printed next to its floor and target:

1. Chain: N tasks, each taking the previous result, run on `LocalExecutor`. Only `flow.run()` is
   timed; building the graph in `with Flow(...)` is timed and printed separately.
   Floor: a bare Python loop calling the same plain function N times. This is the least any
   sequential runner can spend per call, so the ratio shows how many "function calls" of
   bookkeeping the engine adds to each task. The target is absolute (<= 30 us per task).
2. Threaded map: `double.map(rows)` over N elements on `ThreadExecutor(2)`; run time / N.
   Floor: `concurrent.futures.ThreadPoolExecutor(2)`, pool start and shutdown included, with N
   `submit` calls followed by `.result()` on each future. That is the machinery the thread
   executor is built on, so the ratio isolates what proctor adds on top of it (target <= 5x).
3. A 100,000-element map on `LocalExecutor` and on `ThreadExecutor(2)`, each in a fresh process:
   wall time (build + run), and peak RSS from `resource.getrusage(RUSAGE_SELF).ru_maxrss`, also
   shown as growth over the peak the process had reached after its imports (target: peak
   < 1 GiB). On Linux ru_maxrss survives fork and exec: a child starts with its parent's peak.
   So these children are started first, while this process is still no bigger than a child is
   after its imports, and the kernel's per-process figure (VmHWM in /proc/self/status, which
   starts afresh at exec) is recorded beside it as a cross-check.
4. `import proctor` in a fresh interpreter, raw and net of a bare `python -c pass` (target net
   < 0.3 s), and which heavy optional dependencies the import pulled in (there should be none).
5. A one-task flow run end to end in a fresh interpreter (interpreter start, import, build, run,
   exit), for a `with Flow(...)` graph and for a `@flow` function (target < 0.5 s each).

Cases 1 and 2 (engine and floor alike) are repeated and the median is reported, min..max beside
it; every fresh-process figure is the median of as many runs. The garbage collector stays
enabled, as in real use, and is run between repeats so every repeat starts from the same heap.
Results are checked for correctness (a wrong answer aborts the benchmark); timings are only
reported, never asserted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import proctor
from proctor import Flow, task
from proctor.executors import LocalExecutor, ThreadExecutor

HEAVY_MODULES = ("dask", "distributed", "fastapi", "sqlalchemy", "pydantic", "rich", "typer")

TARGET_CHAIN_US = 30.0
TARGET_MAP_RATIO = 5.0
TARGET_PEAK_MIB = 1024.0
TARGET_IMPORT_S = 0.3
TARGET_ONE_TASK_S = 0.5

FULL = {"chain": 10_000, "map": 10_000, "big_map": 100_000, "repeats": 5, "proc_repeats": 5}
QUICK = {"chain": 1_000, "map": 1_000, "big_map": 10_000, "repeats": 3, "proc_repeats": 3}

ONE_TASK_GRAPH = """\
from proctor import Flow, task

@task
def one():
    return 1

with Flow("one") as f:
    one()
raise SystemExit(0 if f.run().is_successful() else 1)
"""

ONE_TASK_FUNCTION = """\
from proctor import flow, task

@task
def one():
    return 1

@flow
def main():
    return one()

raise SystemExit(0 if main() == 1 else 1)
"""

HEAVY_CHECK = (
    "import json, sys; import proctor; "
    f"print(json.dumps([sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules), "
    "len(sys.modules)]))"
)


# -- the work: plain functions, and the same functions as tasks -----------------------------------
def inc(x: int) -> int:
    return x + 1


def double(x: int) -> int:
    return 2 * x


def make_rows(n: int) -> list[int]:
    return list(range(n))


inc_task = task(inc)
double_task = task(double)
rows_task = task(make_rows, name="rows")


# -- helpers --------------------------------------------------------------------------------------
def repeat(times: int, fn: Callable[[], dict[str, float]]) -> dict[str, list[float]]:
    """Call `fn` `times` times after a GC each; collect each of its named timings into a list."""
    samples: dict[str, list[float]] = {}
    for _ in range(times):
        gc.collect()
        for name, value in fn().items():
            samples.setdefault(name, []).append(value)
    return samples


def summary(samples: list[float], scale: float = 1.0) -> dict[str, Any]:
    """Median, min and max of `samples` multiplied by `scale`, plus the scaled samples."""
    scaled = [s * scale for s in samples]
    return {
        "median": statistics.median(scaled),
        "min": min(scaled),
        "max": max(scaled),
        "samples": scaled,
    }


def own_peak_rss_mib() -> float | None:
    """Peak RSS of this process image alone (Linux VmHWM, reset at exec), in MiB; else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (ru_maxrss: KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def time_process(args: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one run of `python <args>`; raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)!r} failed:\n{done.stderr}")
    return elapsed


def checked(state: Any, node: Any, expected: Any, what: str) -> None:
    if not state.is_successful() or state.result[node].result != expected:
        raise RuntimeError(f"{what}: the flow run did not produce the expected result ({state})")


# -- case 1: a sequential chain on LocalExecutor --------------------------------------------------
def chain_once(n: int) -> dict[str, float]:
    start = time.perf_counter()
    with Flow("chain") as flow:
        x: Any = 0
        for _ in range(n):
            x = inc_task(x)
    built = time.perf_counter()
    state = flow.run(executor=LocalExecutor())
    ran = time.perf_counter()
    checked(state, x, n, "chain")
    return {"build": built - start, "run": ran - built}


def bare_loop_once(n: int) -> dict[str, float]:
    start = time.perf_counter()
    x = 0
    for _ in range(n):
        x = inc(x)
    elapsed = time.perf_counter() - start
    if x != n:
        raise RuntimeError("bare loop: wrong result")
    return {"loop": elapsed}


def bench_chain(n: int, repeats: int) -> dict[str, Any]:
    engine = repeat(repeats, lambda: chain_once(n))
    floor = repeat(repeats, lambda: bare_loop_once(n))
    per_task = 1e6 / n
    result = {
        "tasks": n,
        "run_us_per_task": summary(engine["run"], per_task),
        "build_us_per_task": summary(engine["build"], per_task),
        "floor_us_per_call": summary(floor["loop"], per_task),
    }
    result["ratio"] = result["run_us_per_task"]["median"] / result["floor_us_per_call"]["median"]
    result["target_us_per_task"] = TARGET_CHAIN_US
    result["met"] = result["run_us_per_task"]["median"] <= TARGET_CHAIN_US
    return result


# -- case 2: a map on ThreadExecutor(2) -----------------------------------------------------------
def build_map(n: int) -> tuple[Flow, Any]:
    with Flow("map") as flow:
        doubled = double_task.map(rows_task(n))
    return flow, doubled


def map_once(n: int, executor: Any) -> dict[str, float]:
    start = time.perf_counter()
    flow, doubled = build_map(n)
    built = time.perf_counter()
    state = flow.run(executor=executor)
    ran = time.perf_counter()
    checked(state, doubled, [2 * i for i in range(n)], "map")
    return {"build": built - start, "run": ran - built}


def pool_once(n: int) -> dict[str, float]:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(double, i) for i in make_rows(n)]
        out = [f.result() for f in futures]
    elapsed = time.perf_counter() - start
    if out[-1] != 2 * (n - 1):
        raise RuntimeError("thread pool: wrong result")
    return {"pool": elapsed}


def bench_threaded_map(n: int, repeats: int) -> dict[str, Any]:
    engine = repeat(repeats, lambda: map_once(n, ThreadExecutor(2)))
    floor = repeat(repeats, lambda: pool_once(n))
    per_task = 1e6 / n
    result = {
        "tasks": n,
        "run_us_per_task": summary(engine["run"], per_task),
        "build_ms": summary(engine["build"], 1e3),
        "floor_us_per_item": summary(floor["pool"], per_task),
    }
    result["ratio"] = result["run_us_per_task"]["median"] / result["floor_us_per_item"]["median"]
    result["target_ratio"] = TARGET_MAP_RATIO
    result["met"] = result["ratio"] <= TARGET_MAP_RATIO
    return result


# -- case 3: a large map, one fresh process per executor ------------------------------------------
def map_case_child(n: int, executor_name: str) -> None:
    """Body of `--case map100k`: run the map once and print its figures as one JSON line."""
    executor = LocalExecutor() if executor_name == "local" else ThreadExecutor(2)
    baseline = peak_rss_mib()
    timings = map_once(n, executor)
    print(json.dumps({
        "tasks": n,
        "executor": executor_name,
        "build_s": timings["build"],
        "run_s": timings["run"],
        "wall_s": timings["build"] + timings["run"],
        "rss_after_imports_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
        "vmhwm_mib": own_peak_rss_mib(),
    }))


def bench_big_map(n: int) -> dict[str, Any]:
    results = {}
    for executor_name in ("local", "threads"):
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--case", "map100k",
             "--size", str(n), "--executor", executor_name],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"map case ({executor_name}) failed:\n{done.stderr}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["growth_mib"] = figures["peak_rss_mib"] - figures["rss_after_imports_mib"]
        figures["bytes_per_task"] = figures["growth_mib"] * 1024 * 1024 / n
        figures["target_peak_mib"] = TARGET_PEAK_MIB
        figures["met"] = figures["peak_rss_mib"] < TARGET_PEAK_MIB
        results[executor_name] = figures
    return results


# -- cases 4 and 5: fresh interpreters ------------------------------------------------------------
def bench_import(repeats: int, env: dict[str, str]) -> dict[str, Any]:
    bare, imported = [], []
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        bare.append(time_process(["-c", "pass"], env))
        imported.append(time_process(["-c", "import proctor"], env))
    done = subprocess.run([sys.executable, "-c", HEAVY_CHECK], capture_output=True, text=True,
                          env=env, check=True)
    heavy, module_count = json.loads(done.stdout)
    net = statistics.median(imported) - statistics.median(bare)
    return {
        "python_s": summary(bare),
        "import_s": summary(imported),
        "net_s": net,
        "heavy_modules": heavy,
        "modules_loaded": module_count,
        "target_net_s": TARGET_IMPORT_S,
        "met": net < TARGET_IMPORT_S and not heavy,
    }


def bench_one_task(repeats: int, env: dict[str, str], python_s: float) -> dict[str, Any]:
    results = {}
    for style, source in (("graph", ONE_TASK_GRAPH), ("function", ONE_TASK_FUNCTION)):
        wall = summary([time_process(["-c", source], env) for _ in range(repeats)])
        results[style] = {
            "wall_s": wall,
            "net_of_python_s": wall["median"] - python_s,
            "target_s": TARGET_ONE_TASK_S,
            "met": wall["median"] < TARGET_ONE_TASK_S,
        }
    return results


# -- report ---------------------------------------------------------------------------------------
def cpu_count() -> str:
    total = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        return str(total)
    return str(total) if usable == total else f"{usable} usable of {total}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def spread(s: dict[str, Any], fmt: str) -> str:
    return f"{s['min']:{fmt}}..{s['max']:{fmt}}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_report(meta: dict[str, Any], figures: dict[str, Any]) -> None:
    rows: list[tuple[str, ...]] = []
    chain, tmap = figures["chain"], figures["threaded_map"]
    big, imp, one = figures["big_map"], figures["import"], figures["one_task"]

    run, floor = chain["run_us_per_task"], chain["floor_us_per_call"]
    rows.append((
        f"1 chain of {chain['tasks']:,} tasks, local: run", f"{run['median']:.2f} us/task",
        spread(run, ".2f"), f"{floor['median']:.3f} us/call", f"{chain['ratio']:.0f}x",
        f"<= {TARGET_CHAIN_US:g} us/task", verdict(chain["met"]),
    ))
    build = chain["build_us_per_task"]
    rows.append(("  chain: build (with Flow)", f"{build['median']:.2f} us/task",
                 spread(build, ".2f"), "", "", "", ""))

    run, floor = tmap["run_us_per_task"], tmap["floor_us_per_item"]
    rows.append((
        f"2 map of {tmap['tasks']:,}, ThreadExecutor(2)", f"{run['median']:.2f} us/task",
        spread(run, ".2f"), f"{floor['median']:.2f} us/item", f"{tmap['ratio']:.1f}x",
        f"<= {TARGET_MAP_RATIO:g}x floor", verdict(tmap["met"]),
    ))

    for name, label in (("local", "LocalExecutor"), ("threads", "ThreadExecutor(2)")):
        case = big[name]
        rows.append((
            f"3 map of {case['tasks']:,}, {label}: wall", f"{case['wall_s']:.2f} s",
            f"build {case['build_s']:.2f} + run {case['run_s']:.2f}", "",
            f"{case['run_s'] / case['tasks'] * 1e6:.1f} us/task", "", "",
        ))
        own = "" if case["vmhwm_mib"] is None else f", VmHWM {case['vmhwm_mib']:.0f}"
        rows.append((
            "  peak RSS (ru_maxrss)", f"{case['peak_rss_mib']:.0f} MiB",
            f"+{case['growth_mib']:.0f} over {case['rss_after_imports_mib']:.0f}{own}",
            "", f"{case['bytes_per_task']:.0f} B/task", f"< {TARGET_PEAK_MIB:.0f} MiB",
            verdict(case["met"]),
        ))

    rows.append((
        "4 import proctor: net of python", f"{imp['net_s']:.3f} s", "",
        f"{imp['python_s']['median']:.3f} s python", "", f"< {TARGET_IMPORT_S:g} s",
        verdict(imp["met"]),
    ))
    rows.append(("  import proctor: raw", f"{imp['import_s']['median']:.3f} s",
                 spread(imp["import_s"], ".3f"), "", "", "", ""))
    heavy = ", ".join(imp["heavy_modules"]) or "none"
    rows.append(("  heavy modules pulled in", heavy, f"{imp['modules_loaded']} modules",
                 "", "", "none", verdict(not imp["heavy_modules"])))

    for style, label in (("graph", "with Flow"), ("function", "@flow")):
        case = one[style]
        rows.append((
            f"5 one-task flow ({label}), fresh process", f"{case['wall_s']['median']:.3f} s",
            spread(case["wall_s"], ".3f"), f"net {case['net_of_python_s']:.3f} s", "",
            f"< {TARGET_ONE_TASK_S:g} s", verdict(case["met"]),
        ))

    header = ("figure", "measured", "min..max / note", "floor", "ratio", "target", "result")
    notes = (
        "ratio column: measured / floor; for a 100k map: run time per task, and RSS growth per "
        "task",
        "peak RSS note: +growth over the peak after imports (MiB), and the kernel's VmHWM",
    )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    print(f"proctor {meta['proctor']} overhead benchmark, {meta['date']}")
    print(f"Python {meta['python']} ({meta['implementation']}) on {meta['platform']}, "
          f"CPUs: {meta['cpus']}")
    print(f"mode: {meta['mode']}; cases 1-2: median of {meta['repeats']} runs; "
          f"fresh-process cases: median of {meta['proc_repeats']} runs")
    print(f"load average (1/5/15 min): {meta['load_before']} before, {meta['load_after']} after")
    print()
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    missed = [r[0].strip() for r in rows if r[-1] == "MISSED"]
    print()
    for note in notes:
        print(note)
    print("all targets met" if not missed else "targets missed: " + "; ".join(missed))


# -- main -----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--case", choices=["map100k"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=FULL["big_map"], help=argparse.SUPPRESS)
    parser.add_argument("--executor", choices=["local", "threads"], default="local",
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.case == "map100k":
        map_case_child(args.size, args.executor)
        return

    # Fresh-process start-up cases run with the caller's environment (run logs at their default
    # level, as a user would see them); in this process and the map children the per-run log
    # lines are silenced so they do not interleave with the table.
    user_env = dict(os.environ)
    os.environ["PROCTOR_LOGGING_LEVEL"] = "WARNING"

    sizes = QUICK if args.quick else FULL
    meta = {
        "date": datetime.date.today().isoformat(),
        "proctor": proctor.__version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": cpu_count(),
        "mode": "quick" if args.quick else "full",
        "load_before": load_average(),
        **sizes,
    }
    started = time.perf_counter()
    figures: dict[str, Any] = {
        # first: the children inherit this process's peak RSS (see the module docstring)
        "big_map": bench_big_map(sizes["big_map"]),
        "chain": bench_chain(sizes["chain"], sizes["repeats"]),
        "threaded_map": bench_threaded_map(sizes["map"], sizes["repeats"]),
        "import": bench_import(sizes["proc_repeats"], user_env),
    }
    figures["one_task"] = bench_one_task(
        sizes["proc_repeats"], user_env, figures["import"]["python_s"]["median"]
    )
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta["load_after"] = load_average()

    print_report(meta, figures)
    print(f"(benchmark took {meta['elapsed_s']} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"meta": meta, "figures": figures}, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
