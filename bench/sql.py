"""What `proctor.tasks.sql` costs over the bare library: rows per second for a many-row insert and a
full fetch, against SQLAlchemy Core doing the same on the same engine, in the same run.

    python bench/sql.py                 # SQLite file, and PostgreSQL/MariaDB when they answer
    python bench/sql.py --rows 20000

For each database: insert N rows (one transaction, executemany) and fetch them all back as
dicts, with `SqlInsert(...).run(rows)` / `SqlQuery(...).run()` and with bare SQLAlchemy Core
(`conn.execute(insert(table), rows)`, `[dict(r._mapping) for r in result]`). Each figure is the
median of 5 runs, the table emptied between runs. Target: the task within 1.2x of the bare
library. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import sqlalchemy

from proctor.tasks.sql import SqlInsert, SqlQuery, engine_for

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}


def reachable(url: str) -> bool:
    try:
        with engine_for(url).connect():
            return True
    except Exception:
        return False


def timed(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench(name: str, url: str, n: int, repeats: int) -> list[tuple]:
    table_name = f"bench_{uuid.uuid4().hex[:8]}"
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE TABLE {table_name} (id INTEGER PRIMARY KEY, "
                                     f"name VARCHAR(40), amount INTEGER)"))
    rows = [{"id": i, "name": f"customer-{i}", "amount": i % 1000} for i in range(n)]
    table = sqlalchemy.table(table_name, sqlalchemy.column("id"), sqlalchemy.column("name"),
                             sqlalchemy.column("amount"))
    empty = sqlalchemy.text(f"DELETE FROM {table_name}")
    select = f"SELECT id, name, amount FROM {table_name}"
    try:
        def clear():
            with engine.begin() as conn:
                conn.execute(empty)

        def bare_insert():
            clear()
            with engine.begin() as conn:
                conn.execute(sqlalchemy.insert(table), rows)

        task = SqlInsert(table_name, url=url)

        def task_insert():
            clear()
            task.run(rows)

        def bare_fetch():
            with engine.begin() as conn:
                return [dict(r._mapping) for r in conn.execute(sqlalchemy.text(select))]

        query = SqlQuery(select, url=url)
        insert_bare = timed(bare_insert, repeats)
        insert_task = timed(task_insert, repeats)
        fetch_bare = timed(bare_fetch, repeats)
        fetch_task = timed(query.run, repeats)
        assert len(query.run()) == n and query.run()[0] == rows[0]
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP TABLE {table_name}"))
    return [(name, "insert", n / insert_task, n / insert_bare),
            (name, "fetch", n / fetch_task, n / fetch_bare)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    databases = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/bench.db"}
    databases.update({k: v for k, v in SERVERS.items() if reachable(v)})
    print(f"proctor.tasks.sql, {args.rows:,} rows, median of {args.repeats}")
    print(f"{'database':<11} {'operation':<9} {'task rows/s':>12} {'bare rows/s':>12} "
          f"{'bare/task':>9}  target <= 1.2x")
    for name, url in databases.items():
        for database, operation, task_rate, bare_rate in bench(name, url, args.rows,
                                                               args.repeats):
            ratio = bare_rate / task_rate
            print(f"{database:<11} {operation:<9} {task_rate:>12,.0f} {bare_rate:>12,.0f} "
                  f"{ratio:>8.2f}x  {'met' if ratio <= 1.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
