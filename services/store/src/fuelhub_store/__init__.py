"""Applies change events to Postgres transactionally and idempotently."""
