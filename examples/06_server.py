"""Workshop step 6: deploy a flow to the server, let an agent run it, watch it in the web UI.

With `make run` going in another terminal (the server, its web UI at http://127.0.0.1:4200/, and
an agent), either

    python examples/06_server.py          # deploys this flow (flow.deploy) and starts a run
    .venv/bin/proctor deploy examples/06_server.py:flow --name daily --cron "0 6 * * *"

then open the deployment's page (the first command prints it), press "Run now", pick a region,
and watch the run go live: its task graph, states and logs. The server never sees this code: it
stores where the code is (the entrypoint and the folder it was deployed from) and an agent on
this machine imports and runs it there.
"""

import sys
from pathlib import Path

from proctor import Flow, Parameter, get_run_logger, task

#: Next to this file, wherever the agent finds it.
SALES = Path(__file__).resolve().parent / "data" / "sales.csv"


@task
def read_sales(path: str) -> list[dict]:
    header, *lines = Path(path).read_text().splitlines()
    names = header.split(",")
    return [dict(zip(names, line.split(","), strict=True)) for line in lines]


@task
def total_for(rows: list[dict], region: str) -> int:
    return sum(int(row["amount"]) for row in rows if row["region"] == region)


@task
def report(region: str, total: int) -> str:
    line = f"{region}: {total}"
    get_run_logger().info("sales of %s", line)
    return line


with Flow("sales-report") as flow:
    region = Parameter("region", default="north")
    report(region, total_for(read_sales(str(SALES)), region))


def deploy_and_run(api_url: str) -> tuple[dict, dict]:
    """Deploy this flow as `sales-report/from-python` and start one run of it (region south)."""
    from proctor.client import ProctorClient

    deployment = flow.deploy("from-python", api_url=api_url)
    with ProctorClient(api_url) as client:
        run = client.create_deployment_run(deployment["id"], {"region": "south"})
    return deployment, run


if __name__ == "__main__":
    from proctor.client import api_url_from_env
    from proctor.core.errors import ProctorError

    url = api_url_from_env() or "http://127.0.0.1:4200"
    try:
        deployment, run = deploy_and_run(url)
    except ProctorError as exc:
        sys.exit(f"could not deploy to {url}: {exc}\nStart the server with `make run` (or set "
                 f"PROCTOR_API_URL to yours), then run this again.")
    print(f"Deployed {deployment['flow_name']}/{deployment['name']}; a run is on its way: "
          f"{url}/runs/{run['id']}")
    print(f"The deployment's page, with Run now: {url}/deployments/{deployment['id']}")
