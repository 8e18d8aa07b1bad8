"""Review state machine, SQLite review store and hash-chained audit log. No Qt."""
