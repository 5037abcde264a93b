"""The server's storage: tables, engine and transactions, migrations, and query verbs."""
