"""Deterministic filler text for agent-shaped bodies: prose, source files, shell output.

Everything comes from ``random.Random(seed)`` with fixed seeds, so a body is the
same bytes on every run and every machine (the report prints its SHA-256).
A few non-ASCII characters are mixed in, sent raw as coding agents send them.
"""

from __future__ import annotations

import random

_WORDS = (
    "the a an of to in for on with by from as at is are be was it this that these those each every "
    "request response gateway client server stream event token model prompt tool call result record "
    "file path line function class module package test fixture config option value default error "
    "retry timeout limit buffer queue writer reader thread greenlet socket header body json schema "
    "user assistant system message content block delta usage input output cache read write "
    "must should may never always only when then else before after until while because so "
    "add remove change keep check run build parse read write send receive open close start stop "
    "small large fast slow new old first last next previous same other whole partial exact "
    "database table row column index query transaction lock commit migration retention purge "
    "repository branch commit diff patch review merge worktree directory editor terminal shell"
).split()
_ACCENTS = ("café", "naïve", "→", "✓", "—", "über", "résumé", "…")
_IDENTS = (
    "relay", "upstream", "record", "interception", "provider", "usage", "prompt", "token", "stream",
    "writer", "batch", "queue", "config", "handler", "session", "actor", "event", "chunk", "limit",
)


class Text:
    """One seeded source of text; call its methods in a fixed order for fixed output."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def sentence(self, words: int = 0) -> str:
        n = words or self.rng.randint(8, 22)
        picked = [self.rng.choice(_WORDS) for _ in range(n)]
        if self.rng.random() < 0.08:
            picked[self.rng.randrange(n)] = self.rng.choice(_ACCENTS)
        return " ".join(picked).capitalize() + "."

    def paragraph(self, sentences: int = 0) -> str:
        return " ".join(self.sentence() for _ in range(sentences or self.rng.randint(3, 7)))

    def prose(self, size: int) -> str:
        """Paragraphs, some as bullet lists, until about ``size`` characters."""
        parts: list[str] = []
        length = 0
        while length < size:
            if self.rng.random() < 0.3:
                part = "\n".join(f"- {self.sentence()}" for _ in range(self.rng.randint(3, 6)))
            else:
                part = self.paragraph()
            parts.append(part)
            length += len(part) + 2
        return "\n\n".join(parts)[:size]

    def ident(self) -> str:
        return "_".join(self.rng.choice(_IDENTS) for _ in range(self.rng.randint(1, 3)))

    def source_file(self, lines: int) -> str:
        """A Python-looking file as the Read tool returns it: numbered lines with an arrow."""
        out, indent = [], 0
        for number in range(1, lines + 1):
            roll = self.rng.random()
            if roll < 0.12:
                indent = 0
                text = f"def {self.ident()}({self.ident()}: str, {self.ident()}: int = 0) -> dict:"
                indent = 4
            elif roll < 0.2:
                text = " " * indent + f'"""{self.sentence(10)}"""'
            elif roll < 0.5:
                text = " " * indent + f"{self.ident()} = {self.ident()}.get({self.ident()!r}, {self.rng.randint(0, 999)})"
            elif roll < 0.65:
                text = " " * indent + f"if {self.ident()} is None or len({self.ident()}) > {self.rng.randint(1, 64)}:"
            elif roll < 0.8:
                text = " " * (indent + 4) + f"return {{{self.ident()!r}: {self.ident()}, \"ok\": True}}"
            elif roll < 0.9:
                text = " " * indent + f"# {self.sentence(9)}"
            else:
                text = ""
            out.append(f"{number:6d}→{text}")
        return "\n".join(out)

    def shell_output(self, lines: int) -> str:
        """Test-runner and grep-like output lines."""
        out = []
        for _ in range(lines):
            roll = self.rng.random()
            path = f"{self.ident()}/{self.ident()}.py"
            if roll < 0.4:
                out.append(f"tests/test_{self.ident()}.py::test_{self.ident()} PASSED [{self.rng.randint(1, 100):3d}%]")
            elif roll < 0.7:
                out.append(f"{path}:{self.rng.randint(1, 900)}:    {self.ident()} = {self.ident()}({self.ident()})")
            else:
                out.append(f"{self.rng.choice(('INFO', 'DEBUG', 'WARNING'))} {self.ident()}: {self.sentence()}")
        return "\n".join(out)

    def tool_id(self, prefix: str) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(24))

    def signature(self, size: int = 400) -> str:
        """A base64-looking thinking signature (opaque to the gateway)."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        return "".join(self.rng.choice(alphabet) for _ in range(size))
