"""Workshop step 7: scale out on Dask by changing the executor, nothing else.

Run it: `python examples/07_dask.py` (starts a local Dask cluster for the run and closes it),
or on a running cluster:

    dask scheduler                           # prints its address, tcp://...:8786
    dask worker tcp://127.0.0.1:8786         # on every machine that should work
    proctor run examples/07_dask.py:flow --executor dask:tcp://127.0.0.1:8786

The flow is the same parallel ETL as step 1: each chunk is transformed on some worker, and the
transformed chunks go from worker to worker into `load` without passing through this process.
A task tagged `dask-resource:GPU=1` would only run on workers started with `--resources GPU=1`.
"""

from proctor import Flow, Parameter, get_run_logger, task
from proctor.executors import DaskExecutor


@task
def extract(chunks: int) -> list[list[int]]:
    """Split the source into chunks: the unit of parallel work."""
    return [list(range(i * 100, (i + 1) * 100)) for i in range(chunks)]


@task(max_retries=2)
def transform(chunk: list[int]) -> dict:
    """Runs on a Dask worker; its log line comes back to this process's logger."""
    import os

    get_run_logger().info("chunk starting at %d on pid %d", chunk[0], os.getpid())
    return {"first": chunk[0], "sum_of_squares": sum(x * x for x in chunk)}


@task
def load(parts: list[dict]) -> int:
    """Gets every transformed chunk directly from the workers that hold them."""
    return sum(part["sum_of_squares"] for part in parts)


with Flow("dask etl", executor=DaskExecutor(cluster_kwargs={"n_workers": 2})) as flow:
    chunks = Parameter("chunks", default=8)
    total = load(transform.map(extract(chunks)))


if __name__ == "__main__":
    state = flow.run()
    assert state.is_successful(), state.message
    n = 8 * 100
    assert state.result[total].result == sum(x * x for x in range(n))
    print(f"sum of squares below {n}: {state.result[total].result}")
