"""Records kept in the database (SQLite by default, PostgreSQL for scale): SQLAlchemy 2 Core,
schema changes as Alembic migrations in ``migrations/versions``."""
