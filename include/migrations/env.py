"""Alembic environment: runs on the connection handed in by crm_hygiene.db."""

from alembic import context

from crm_hygiene.db import make_engine
from crm_hygiene.settings import database_url_from_env

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    # render_as_batch lets ALTERs work on SQLite, which cannot alter in place.
    context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with make_engine(database_url_from_env()).begin() as conn:
        _run(conn)
