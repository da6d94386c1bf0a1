"""The administrator's prices: table ``model_prices``, migration set ``aibridge-cost`` (SQLite and PostgreSQL).

Prices are decimal text (USD per million tokens), so they read back exactly as typed.
"""

from __future__ import annotations

from ..db.migrations import Migrations

cost_migrations = Migrations("aibridge-cost")


@cost_migrations()
def m001_model_prices(db) -> None:
    # One row per model id, as clients send it (a family id also prices its dated variants, see prices.py).
    db.execute(f"CREATE TABLE model_prices (model {db.text} PRIMARY KEY, input {db.text} NOT NULL, "
               f"output {db.text} NOT NULL, cache_read {db.text}, cache_write {db.text}, "
               f"updated_at {db.text} NOT NULL)")
