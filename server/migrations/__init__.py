"""Alembic migrations of the one schema (server/schema.py); see server/migrate.py."""
