"""The SQLite recorder: every record the gateway announces, kept in ``aibridge.db``."""
