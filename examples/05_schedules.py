"""Workshop step 5: schedules.

A flow carries its schedule, as in Prefect 1: `Flow(..., schedule=...)`. Then

- `flow.run()` runs it at each scheduled time, here, until Ctrl-C (no server needed);
- `proctor deploy examples/05_schedules.py:flow --name weekday-mornings` gives the same schedule
  to the server: its scheduler makes the runs, an agent executes them, the UI shows what comes
  next, and Pause/Resume on the deployment's page stops and restarts them.

Schedules are cron expressions, intervals or RRULEs, each in a time zone (a 09:00 run stays at
09:00 across daylight-saving changes), combined and filtered: here, 09:00 in Paris and every 4
hours from 08:00 UTC, on weekdays only.

Run it: `python examples/05_schedules.py` prints the next five times and runs the flow once now.
"""

from datetime import datetime, timedelta, timezone

from proctor import Flow, get_run_logger, task
from proctor.schedules import CronSchedule, IntervalSchedule, Schedule, is_weekday

schedule = Schedule(
    clocks=[
        CronSchedule("0 9 * * *", timezone="Europe/Paris"),
        IntervalSchedule(timedelta(hours=4),
                         anchor=datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)),
    ],
    filters=[is_weekday],
)


@task
def snapshot() -> dict:
    """Pretend to take a snapshot of a source system."""
    return {"rows": 42, "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


@task
def publish(snap: dict) -> str:
    line = f"{snap['rows']} rows at {snap['taken_at']}"
    get_run_logger().info("published %s", line)
    return line


with Flow("scheduled-snapshot", schedule=schedule) as flow:
    publish(snapshot())


if __name__ == "__main__":
    print(f"{schedule.describe()}; next runs:")
    for when in schedule.next(5):
        print(f"  {when:%a %Y-%m-%d %H:%M} UTC")
    state = flow.run(run_on_schedule=False)  # once, now; flow.run() alone would wait for each time
    print(state)
