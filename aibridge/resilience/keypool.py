"""A provider instance's keys: which one a request uses, and what a refusal does to it.

Each key is ``valid``, ``temporary`` (cooling down after a 429: for the
upstream's Retry-After, else 60 s) or ``permanent`` (after a 401 or 403:
unusable until the process restarts or reloads its configuration). With two
keys or more the pool fails over: a request whose key is refused is sent again
with the next usable key. A single key is never marked: there is nothing to
fail over to, and the provider's answer reaches the client as sent.

The pool is shared by every request of the process. Picking a key takes no
lock (a race only shifts the rotation by one); state changes take one, so two
requests refused on the same key change it once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

VALID = "valid"
TEMPORARY = "temporary"
PERMANENT = "permanent"
STATES = (VALID, TEMPORARY, PERMANENT)

DEFAULT_COOLDOWN = 60.0  # seconds a key rests after a 429 that gave no Retry-After

# The upstream statuses that say something about the key, and the reason a change is counted under.
REASONS = {429: "rate_limited", 401: "unauthorized", 403: "forbidden"}
RECOVERED = "cooled_down"  # the reason of a temporary key's return to valid

# key_pool_exhaustions_total's outcome: some key only cools down, or every key was refused for good.
RATE_LIMITED = "rate_limited"
AUTH_FAILED = "auth_failed"


def mask(secret: str) -> str:
    """A key as logs and records may show it: at most its first and last 4 characters, never over a quarter of it."""
    shown = min(4, len(secret) // 8)
    return f"{secret[:shown]}...{secret[-shown:]}" if shown else "..."


class Key:
    """One credential: ``secret`` is what the provider's transport sends (a string, or AWS credentials)."""

    __slots__ = ("secret", "hint", "state", "until", "reason")

    def __init__(self, secret: Any, hint: str):
        self.secret = secret
        self.hint = hint
        self.state = VALID
        self.until = 0.0  # temporary: the monotonic time its cooldown ends
        self.reason = ""  # why it is not valid

    def __repr__(self) -> str:  # never the secret
        return f"Key({self.hint}, {self.state})"


@dataclass(frozen=True)
class KeyStatus:
    """A key as the provider status shows it: masked, its state, and for a cooling key the seconds left."""

    hint: str
    state: str
    reason: str = ""
    retry_after: float | None = None


class KeyPool:
    """The keys of one provider instance; ``listener`` hears state changes and exhaustions (see events.py)."""

    def __init__(self, provider_name: str, keys: list[Key], listener=None):
        self.provider_name = provider_name
        self.keys = keys
        self.fails_over = len(keys) > 1
        self._listener = listener
        self._next = 0
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.keys)

    def pick(self, now: float) -> Key | None:
        """The next usable key in rotation (a cooled-down key becomes valid again), or None when none is."""
        keys = self.keys
        count = len(keys)
        start = self._next
        for step in range(count):
            key = keys[(start + step) % count]
            if self.usable(key, now):
                self._next = (start + step + 1) % count
                return key
        return None

    def usable(self, key: Key, now: float) -> bool:
        """Whether ``key`` may be sent now."""
        return key.state == VALID or (key.state == TEMPORARY and now >= key.until and self._recover(key, now))

    def any_key(self) -> Key | None:
        """A key for a request the pool does not manage (passthrough): the next one not refused for good."""
        for _ in range(len(self.keys)):
            key = self.keys[self._next % len(self.keys)]
            self._next = (self._next + 1) % len(self.keys)
            if key.state != PERMANENT:
                return key
        return self.keys[0] if self.keys else None

    def refused(self, key: Key, status: int, retry_after: float | None, now: float) -> bool:
        """The upstream refused ``key`` with ``status``: cool it (429) or retire it (401, 403).

        Returns whether the request may fail over to another key (the pool has
        several and the status is about the key).
        """
        reason = REASONS.get(status)
        if reason is None or not self.fails_over:
            return False
        with self._lock:
            if key.state == PERMANENT:
                return True
            if status == 429:
                changed = key.state != TEMPORARY
                until = now + (retry_after if retry_after is not None else DEFAULT_COOLDOWN)
                key.until = until if changed else max(key.until, until)  # a second 429 never shortens it
                key.state = TEMPORARY
            else:
                changed = True
                key.state = PERMANENT
            key.reason = reason
        if changed:
            self._announce("key_state_changed", key_hint=key.hint, state=key.state, reason=reason)
        return True

    def exhausted(self, now: float) -> float | None:
        """No key is usable: announce it; the seconds until the first cooling key is back, or None if none cools."""
        wait = self.shortest_wait(now)
        self._announce("key_pool_exhausted", outcome=RATE_LIMITED if wait is not None else AUTH_FAILED)
        return wait

    def shortest_wait(self, now: float) -> float | None:
        """Seconds until the first temporary key may be used again (None when no key is cooling)."""
        waits = [max(0.0, key.until - now) for key in self.keys if key.state == TEMPORARY]
        return min(waits) if waits else None

    def status(self, now: float) -> list[KeyStatus]:
        """Every key, masked, with its state as of ``now`` (a cooldown that ended shows as valid)."""
        found = []
        for key in self.keys:
            if key.state == TEMPORARY and now < key.until:
                found.append(KeyStatus(key.hint, TEMPORARY, key.reason, round(key.until - now, 3)))
            elif key.state == PERMANENT:
                found.append(KeyStatus(key.hint, PERMANENT, key.reason))
            else:
                found.append(KeyStatus(key.hint, VALID))
        return found

    def _recover(self, key: Key, now: float) -> bool:
        """A temporary key whose cooldown ended is valid again (announced once, whoever notices first)."""
        with self._lock:
            if key.state != TEMPORARY or now < key.until:
                return key.state == VALID
            key.state = VALID
            key.reason = ""
        self._announce("key_state_changed", key_hint=key.hint, state=VALID, reason=RECOVERED)
        return True

    def _announce(self, event: str, **details) -> None:
        if self._listener is not None:
            getattr(self._listener, event)(self.provider_name, **details)
