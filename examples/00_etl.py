"""Workshop step 0: an ETL as three tasks in a flow, passing data by return values.

Run it: `proctor run examples/00_etl.py:flow` (or `python examples/00_etl.py`).
The second flow is the workshop's own "XCom demo", unchanged.
"""

from proctor import Flow, task


@task
def extract():
    """Pretend to read rows from a source system."""
    return [{"city": "Paris", "temp_c": 12.5}, {"city": "Lyon", "temp_c": 14.0},
            {"city": "Lille", "temp_c": 9.5}]


@task
def transform(rows):
    """Add a Fahrenheit column: a pure function of the upstream result."""
    return [{**row, "temp_f": round(row["temp_c"] * 9 / 5 + 32, 1)} for row in rows]


@task
def load(rows):
    """Print instead of writing to a warehouse."""
    for row in rows:
        print(f"{row['city']:<6} {row['temp_c']:>5.1f} C {row['temp_f']:>5.1f} F")
    return len(rows)


with Flow("etl") as flow:
    rows = extract()
    load(transform(rows))


# --- the workshop's XCom demo, as written there --------------------------------------------------
@task
def push_task():
  return {"Firstname": "Hello", "Name": "World"}

@task
def pull_task(pulled_value):
  print(f"Received value: {pulled_value}")

with Flow("XCom demo") as xcom_flow:
  # declaration de la relation : push_task() s execute en premier et pull_task() en deuxieme
  v1 = push_task()
  pull_task(v1) # on passe directement la valeur v1 en arguments qui a ete retournee par push_task()


if __name__ == "__main__":
    assert flow.run().is_successful()
    assert xcom_flow.run().is_successful()
