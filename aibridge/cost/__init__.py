"""What tokens cost: prices per model (the genai-prices library, then the administrator's), and the cost of a record.

Money is integer nano-dollars (1e-9 USD) in code and storage; shown as USD
with :func:`nanos_to_usd`. A model without a price is "unpriced": its cost is
None, never 0 (docs/cost.md).
"""

from .money import nanos_to_usd, usd_to_nanos
from .price import Price, cost_nanos

__all__ = ["Price", "cost_nanos", "nanos_to_usd", "usd_to_nanos"]
