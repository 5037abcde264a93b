"""Alembic migrations of the server's database; applied with `proctor.server.db.migrate`."""
