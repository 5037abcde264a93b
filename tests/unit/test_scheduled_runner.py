"""The local scheduled runner, driven by a fake clock (no sleeping, no patching)."""

from datetime import datetime, timedelta, timezone

from proctor import Flow, Parameter, task
from proctor.core.states import Success
from proctor.engine.scheduled import ScheduledRunner
from proctor.schedules import CronSchedule, IntervalSchedule, Schedule

T0 = datetime(2026, 11, 25, 12, 0, 10, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, start):
        self.now = start
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_runs_at_each_scheduled_time_with_clock_parameters():
    clock = FakeClock(T0)
    calls = []
    schedule = Schedule([IntervalSchedule("1m", parameters={"n": 3})])

    def run_once(params):
        calls.append((clock(), params))
        return Success(result=len(calls))

    runner = ScheduledRunner(schedule, run_once, now=clock, sleep=clock.sleep)
    assert runner.run(max_runs=3).result == 3
    assert [c[0].strftime("%H:%M:%S") for c in calls] == ["12:01:00", "12:02:00", "12:03:00"]
    assert all(c[1] == {"n": 3} for c in calls)
    assert clock.slept == [50, 60, 60]


def test_a_late_run_skips_missed_times_instead_of_piling_up():
    clock = FakeClock(T0)
    times = []

    def slow_run(params):
        times.append(clock())
        clock.now += timedelta(minutes=5)  # the run takes five minutes
        return Success()

    runner = ScheduledRunner(IntervalSchedule("1m"), slow_run, now=clock, sleep=clock.sleep)
    runner.run(max_runs=2)
    assert [t.strftime("%H:%M") for t in times] == ["12:01", "12:07"]


def test_ended_schedule_stops():
    clock = FakeClock(T0)
    end = T0 + timedelta(minutes=2)
    runner = ScheduledRunner(IntervalSchedule("1m", end=end), lambda p: Success(), now=clock,
                             sleep=clock.sleep)
    runner.run()
    assert runner.runs == 2


def test_flow_with_schedule_runs_repeatedly(monkeypatch):
    import proctor.engine.scheduled as scheduled

    clock = FakeClock(T0)
    monkeypatch.setattr(scheduled, "_utc_now", clock)
    monkeypatch.setattr(scheduled.time, "sleep", clock.sleep)
    seen = []

    @task
    def record(n):
        seen.append(n)
        return n

    with Flow("scheduled", schedule=CronSchedule("*/5 * * * *")) as f:
        record(Parameter("n", default=1))
    state = f.run(n=7, max_scheduled_runs=2)
    assert state.is_successful() and seen == [7, 7]
    assert f.run(run_on_schedule=False, n=2).is_successful() and seen[-1] == 2


def test_ctrl_c_while_waiting_ends_the_loop_with_one_line(capsys):
    clock = FakeClock(T0)
    done = []

    def sleep(seconds):
        if done:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    def run_once(params):
        done.append(1)
        return Success(result="first")

    runner = ScheduledRunner(IntervalSchedule("1m"), run_once, name="etl", now=clock, sleep=sleep)
    assert runner.run().result == "first"  # the last finished run's state
    err = capsys.readouterr().err
    assert err == ("Flow 'etl': schedule stopped (interrupted by the user (Ctrl-C)) after 1 "
                   "finished run(s); no run was in progress.\n")


def test_ctrl_c_during_a_run_returns_it_cancelled(capsys):
    clock = FakeClock(T0)

    def run_once(params):
        raise KeyboardInterrupt

    runner = ScheduledRunner(IntervalSchedule("1m"), run_once, name="etl", now=clock,
                             sleep=clock.sleep)
    state = runner.run()
    assert state.is_cancelled()
    assert "after 0 finished run(s); the run in progress ended Cancelled." in \
        capsys.readouterr().err
