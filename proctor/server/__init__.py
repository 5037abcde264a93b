"""The Proctor server: a FastAPI app over a SQL database that stores run metadata.

It records what clients report (flows, runs, states, logs), answers questions about it, and hands
deployments' runs to agents; it never imports or runs user code. Nothing here is imported by
`import proctor`: the server and its heavy dependencies (FastAPI, SQLAlchemy, Alembic) load only
when a server command or test asks for them.

- `db/`: the schema (`models`), the engine and transactions (`engine`), the Alembic migrations,
  and the narrow verbs the API calls (`queries`).
- `api/`: the app factory (`create_app`), request schemas, and one router per resource.
- `services/`: what the server does on its own, in background threads started with the app: the
  scheduler (makes deployments' scheduled runs) and the reaper (LATE, CRASHED, crash retries).
"""
