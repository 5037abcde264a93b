"""What running a flow on Dask through Proctor costs over using Dask directly.

    python bench/dask.py            # about a minute on 2 cores
    python bench/dask.py --quick    # smaller sizes, a smoke run

One `distributed.LocalCluster` of 2 worker processes (1 thread each) serves every measurement,
so engine and floor run on the same cluster in the same run. Task bodies are trivial
(`x + 1`), so each figure is orchestration cost: Proctor's engine plus Dask's scheduler.

1. Map: N elements. Proctor: `inc.map(range(N))` in a `with Flow(...)` run on
   `DaskExecutor(address=...)` (the run connects its own client, sends the attempts in batches,
   receives each attempt's state as a Dask event, and fetches every result at the end).
   Floor: `client.map(inc, range(N))` + `client.gather(...)` on a client already connected.
   Target: Proctor <= 2x the floor.
2. Chain: M tasks, each taking the previous result (nothing can run in parallel: this is
   latency per task). Proctor: a `with Flow(...)` chain of M calls. Floor: M `client.submit`
   calls, each given the previous future, then `.result()` of the last one.

Each case runs 3 times, alternating floor and Proctor; the best of each is reported with all
three beside it. Results are checked (a wrong answer aborts); timings are reported, never
asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable

# This file is named dask.py: its folder must not shadow the `dask` package for the imports below.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(
    os.path.abspath(__file__))]

from distributed import Client, LocalCluster  # noqa: E402

from proctor import Flow, task  # noqa: E402
from proctor.executors import DaskExecutor  # noqa: E402


def inc(x: int) -> int:
    return x + 1


inc_task = task(inc, name="inc")


def floor_map(client: Client, n: int) -> float:
    started = time.perf_counter()
    futures = client.map(inc, range(n), pure=False)
    values = client.gather(futures)
    elapsed = time.perf_counter() - started
    assert values == [i + 1 for i in range(n)], "floor map gave a wrong answer"
    del futures
    return elapsed


def proctor_map(address: str, n: int) -> float:
    with Flow("bench-map") as flow:
        mapped = inc_task.map(list(range(n)))
    started = time.perf_counter()
    state = flow.run(executor=DaskExecutor(address=address))
    elapsed = time.perf_counter() - started
    assert state.is_successful(), state
    assert state.result[mapped].result == [i + 1 for i in range(n)], "map gave a wrong answer"
    return elapsed


def floor_chain(client: Client, m: int) -> float:
    started = time.perf_counter()
    future = client.submit(inc, 0, pure=False)
    for _ in range(m - 1):
        future = client.submit(inc, future, pure=False)
    value = future.result()
    elapsed = time.perf_counter() - started
    assert value == m, "floor chain gave a wrong answer"
    return elapsed


def proctor_chain(address: str, m: int) -> float:
    with Flow("bench-chain") as flow:
        node = inc_task(0)
        for _ in range(m - 1):
            node = inc_task(node)
    started = time.perf_counter()
    state = flow.run(executor=DaskExecutor(address=address))
    elapsed = time.perf_counter() - started
    assert state.is_successful(), state
    assert state.result[node].result == m, "chain gave a wrong answer"
    return elapsed


def _series(values: list[float], n: int) -> str:
    return " / ".join(f"{v / n * 1e6:.0f}" for v in values)


def compare(title: str, floor_name: str, n: int, floor: Callable[[], float],
            ours: Callable[[], float], target: float | None = None) -> None:
    """Run floor and Proctor 3 times each, alternating; print the best of each, all runs, and
    the ratio (against `target` when there is one)."""
    floors, mine = [], []
    for _ in range(3):
        floors.append(floor())
        mine.append(ours())
    f, p = min(floors), min(mine)
    print(f"\n{title}")
    print(f"   floor: {floor_name:<22}{f / n * 1e6:8.1f} us/task  (3 runs: {_series(floors, n)})")
    print(f"   proctor on DaskExecutor      {p / n * 1e6:8.1f} us/task  "
          f"(3 runs: {_series(mine, n)})")
    verdict = "" if target is None else (
        f"  [target <= {target:g}x: {'met' if p / f <= target else 'MISSED'}]")
    print(f"   ratio {p / f:.2f}x{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    args = parser.parse_args()
    n_map, n_chain = (1_000, 100) if args.quick else (10_000, 1_000)
    os.environ.setdefault("PROCTOR_LOGGING_LEVEL", "WARNING")
    logging.getLogger("distributed").setLevel(logging.ERROR)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        address = cluster.scheduler_address
        print(f"dask benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} CPUs, LocalCluster 2 workers x 1 thread"
              f"{' (quick)' if args.quick else ''}, load average {os.getloadavg()[0]:.2f}")
        proctor_map(address, 100)  # warm both paths: imports, pickling caches, connections
        floor_map(client, 100)

        compare(f"1. {n_map:,}-element map", "client.map + gather", n_map,
                lambda: floor_map(client, n_map), lambda: proctor_map(address, n_map), target=2)
        compare(f"2. chain of {n_chain:,} dependent tasks", "chained client.submit", n_chain,
                lambda: floor_chain(client, n_chain), lambda: proctor_chain(address, n_chain))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
