"""Workshop step 1: parallelism for free from the graph.

Three independent extracts feed one load. Nothing says "run these together": the graph does, and
a parallel executor runs them at once. Mapping fans one task out over a list known at run time.

Run it: `proctor run examples/01_parallel.py:flow --executor threads:4`.
"""

import time

from proctor import Flow, task


@task
def fetch(source: str):
    """A slow I/O-bound read (sleeps stand in for network calls)."""
    time.sleep(0.2)
    return [f"{source}-{i}" for i in range(3)]


@task
def clean(record: str):
    time.sleep(0.05)
    return record.upper()


@task
def merge(*batches):
    return [row for batch in batches for row in batch]


@task
def report(rows):
    print(f"{len(rows)} rows: {', '.join(rows)}")
    return len(rows)


with Flow("parallel-etl", executor="threads:4") as flow:
    merged = merge(fetch("crm"), fetch("erp"), fetch("web"))  # three branches, run together
    cleaned = clean.map(merged)  # one task run per row
    report(cleaned)


if __name__ == "__main__":
    started = time.perf_counter()
    state = flow.run()
    print(f"{state.name} in {time.perf_counter() - started:.2f}s")
