"""Step 8: a flow made of the task library's ready tasks (docs/task-library.md).

Orders go from PostgreSQL, through a shell step and a CSV file, to Redis (a summary that expires)
and MariaDB (a copy of the rows). It needs the local services: PostgreSQL on 127.0.0.1:5432,
MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379 (their URLs can be changed with
PROCTOR_CONNECTION_SOURCE, PROCTOR_CONNECTION_TARGET and PROCTOR_CONNECTION_CACHE).

    python examples/08_task_library.py
"""

import csv
import os
import tempfile
import uuid

from proctor import Flow, Parameter, task
from proctor.tasks.redis import RedisGet, RedisSet
from proctor.tasks.shell import ShellTask
from proctor.tasks.sql import SqlInsert, SqlQuery

os.environ.setdefault("PROCTOR_CONNECTION_SOURCE",
                      "postgresql+psycopg://postgres@127.0.0.1:5432/test")
os.environ.setdefault("PROCTOR_CONNECTION_TARGET", "mysql+pymysql://root@127.0.0.1:3306/test")
os.environ.setdefault("PROCTOR_CONNECTION_CACHE", "redis://127.0.0.1:6379/0")

RUN = uuid.uuid4().hex[:8]  # tables and keys of this run only
SOURCE, TARGET, SUMMARY = f"orders_{RUN}", f"orders_copy_{RUN}", f"orders:{RUN}:total"
WORKDIR = tempfile.mkdtemp(prefix="proctor-orders-")


def statement(sql: str, connection: str) -> SqlQuery:
    return SqlQuery(sql, connection=connection, fetch="none", name=f"ddl-{connection}")


@task
def seed(rows: int) -> list[dict]:
    return [{"id": i, "customer": f"customer-{i % 3}", "total": 10 * i} for i in range(1, rows + 1)]


@task
def write_csv(rows: list[dict]) -> str:
    path = os.path.join(WORKDIR, "orders.csv")
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "customer", "total"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@task
def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as fh:
        return [{"id": int(r["id"]), "customer": r["customer"], "total": int(r["total"])}
                for r in csv.DictReader(fh)]


@task
def total(rows: list[dict]) -> int:
    return sum(row["total"] for row in rows)


big_first = ShellTask(name="sort-by-total", helper_script=f"cd {WORKDIR}")
columns = "(id INTEGER PRIMARY KEY, customer VARCHAR(40), total INTEGER)"

with Flow("task-library") as flow:
    n = Parameter("rows", default=6)
    created = statement(f"CREATE TABLE {SOURCE} {columns}", "source")()
    copied_table = statement(f"CREATE TABLE {TARGET} {columns}", "target")()
    loaded = SqlInsert(SOURCE, connection="source")(seed(n), upstream_tasks=[created])
    rows = SqlQuery(f"SELECT id, customer, total FROM {SOURCE} ORDER BY id",
                    connection="source")(upstream_tasks=[loaded])
    csv_path = write_csv(rows)
    # keep the header, sort the rest by total (the third column), largest first, in place
    sorted_path = big_first(
        command='(head -n 1 orders.csv; tail -n +2 orders.csv | sort -t, -k3,3nr) > sorted.csv'
                ' && echo "$PWD/sorted.csv"', upstream_tasks=[csv_path])
    ordered = read_csv(sorted_path)
    summary = RedisSet(SUMMARY, connection="cache", expire=3600)(value=total(ordered))
    cached = RedisGet(SUMMARY, connection="cache")(upstream_tasks=[summary])
    copied = SqlInsert(TARGET, connection="target")(ordered, upstream_tasks=[copied_table])
    check = SqlQuery(f"SELECT COUNT(*) AS n FROM {TARGET}", connection="target",
                     fetch="one")(upstream_tasks=[copied])


def clean_up() -> None:
    """Drop this run's tables (the Redis key expires by itself)."""
    SqlQuery(f"DROP TABLE {SOURCE}", connection="source", fetch="none").run()
    SqlQuery(f"DROP TABLE {TARGET}", connection="target", fetch="none").run()


if __name__ == "__main__":
    try:
        state = flow.run()
        assert state.is_successful(), state
        first = state.result[ordered].result[0]
        print(f"largest order: {first['customer']} {first['total']}; total in Redis: "
              f"{state.result[cached].result}; rows copied to MariaDB: "
              f"{state.result[check].result['n']}")
    finally:
        clean_up()
