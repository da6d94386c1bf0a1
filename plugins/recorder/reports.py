"""What the recorder says while the store is away: one line when it starts, one a minute, one when it is back."""

from __future__ import annotations

WARN_INTERVAL = 60.0  # seconds between two lines about the same outage


class OutageReport:
    """Log lines about an outage of the store and of the spool, never one per record."""

    def __init__(self, log, spool_dir, overflow: str, interval: float = WARN_INTERVAL):
        self.log = log
        self.spool_dir = spool_dir
        self.overflow = overflow
        self.interval = interval
        self.since: float | None = None  # when the store stopped taking records (monotonic), None while it does
        self.error = ""
        self._last_line = 0.0
        self._spool_since: float | None = None  # when the spool stopped taking records
        self._spool_error = ""
        self._spool_line = 0.0

    @property
    def store_up(self) -> bool:
        return self.since is None

    def store_failed(self, error: str, now: float) -> None:
        self.error = error
        if self.since is None:
            self.since = self._last_line = now
            self.log.warning("recorder: the store does not take records (%s); keeping them in memory, then in the "
                             "spool %s, until it is back", error, self.spool_dir)

    def store_back(self, waiting: int, now: float) -> None:
        if self.since is not None:
            self.log.info("recorder: the store takes records again after %ds; writing the %d records kept meanwhile",
                          now - self.since, waiting)
            self.since = None

    def spool_failed(self, error: str, now: float) -> None:
        if self._spool_since is None:
            self._spool_since, self._spool_line = now, 0.0
        self._spool_error = error

    def spool_back(self) -> None:
        self._spool_since = None

    def tick(self, now: float, in_memory: int, in_spool: int, dropped: int) -> None:
        """The once-a-minute lines while something is wrong."""
        if self.since is not None and now - self._last_line >= self.interval:
            self._last_line = now
            self.log.warning("recorder: the store has not taken records for %ds (%s); %d records waiting "
                             "(%d in memory, %d in the spool %s)", now - self.since, self.error,
                             in_memory + in_spool, in_memory, in_spool, self.spool_dir)
        if self._spool_since is not None and now - self._spool_line >= self.interval:
            self._spool_line = now
            if self.overflow == "relay":
                consequence = (f"{dropped} records dropped so far, not recorded "
                               "(--aibridge-recorder-overflow relay)")
            else:
                consequence = "new interceptions are refused with 503 while memory is full"
            self.log.error("recorder: the spool %s cannot be written (%s); %d records in memory; %s",
                           self.spool_dir, self._spool_error, in_memory, consequence)
