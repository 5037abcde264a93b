"""Work the server does on its own, beside answering requests: the scheduler and the reaper.

Each service is a `run_once(now)` over a `Database` (no clock of its own: tests pass the time they
want) and a background thread that calls it every `PROCTOR_SCHEDULER_INTERVAL` seconds.
`create_app(services=True)` starts them with the app and stops them with it. Several servers on
one database may all run them: every pass is safe against the others (see each module).
"""

from .base import Service, Services, as_epoch
from .reaper import Reaper
from .scheduler import Scheduler

__all__ = ["Reaper", "Scheduler", "Service", "Services", "as_epoch"]
