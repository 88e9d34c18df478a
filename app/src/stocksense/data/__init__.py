"""Storage layer: SQLAlchemy Core schema, migrations, queries and loaders."""
