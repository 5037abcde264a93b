"""Workshop step 2: parameters.

Two equivalent styles. The graph style declares `Parameter`s inside `with Flow(...)`; the function
style takes typed arguments, validated and coerced (`--param n=7` arrives as the int 7; `n=abc`
is refused with a message naming the parameter and the expected type).

Run it: `proctor run examples/02_parameters.py:etl --param n=7` or
        `proctor run examples/02_parameters.py:graph_etl --param n=4 --param factor=10`.
"""

from proctor import Flow, Parameter, flow, get_run_logger, task, unmapped


@task
def extract(n: int):
    return list(range(n))


@task
def scale(x: int, factor: int):
    return x * factor


@task
def load(values):
    get_run_logger().info("loaded %d values, total %d", len(values), sum(values))
    return sum(values)


@flow(name="etl-with-parameters")
def etl(n: int = 5, factor: int = 2) -> int:
    """The function style: typed arguments are the flow's parameters."""
    values = scale.map(extract(n), unmapped(factor))
    return load(values)


with Flow("graph-etl") as graph_etl:
    n = Parameter("n", default=5)
    factor = Parameter("factor", default=2)
    load(scale.map(extract(n), unmapped(factor)))


if __name__ == "__main__":
    print("function style:", etl(n=7))
    state = graph_etl.run(parameters={"n": 4, "factor": 10})
    print("graph style:", state.name)
