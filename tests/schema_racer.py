"""A 'first run' for the schema race test, in a module of its own so a spawned
process imports only this (not conftest and its per-worker Airflow set-up)."""

from __future__ import annotations

from crm_hygiene.db import make_engine, upgrade_schema


def migrate_at_the_same_moment(url: str, barrier, results) -> None:
    """Wait until every racer is ready, then migrate; report what happened."""
    engine = make_engine(url)
    barrier.wait()
    try:
        results.put(("migrated" if upgrade_schema(engine) else "found current", None))
    except Exception as exc:  # reported to the test, which fails with its type and text
        results.put(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
