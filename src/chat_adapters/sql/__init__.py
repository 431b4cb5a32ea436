"""SQL adapters: the chat schema, engines and migrations, and the unit of work on SQLite or PostgreSQL."""
