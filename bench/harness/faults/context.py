"""What every fault case needs: the fake upstreams, the gateway under test and how hard to push it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..aibridge_gateway import Aibridge
from ..nginx import Nginx
from ..procs import Processes


@dataclass
class FaultSettings:
    """Lengths and load of the fault cases (the defaults are the full run's)."""

    concurrency: int = 10  # blocking connections (tiny Anthropic Messages, nginx's canned answer)
    streams: int = 20  # long streams held open through the gateway (slow upstream)
    calm_seconds: float = 10  # load before and after a fault
    lock_seconds: float = 15
    disk_seconds: float = 20
    tmpfs_mib: int = 32
    free_kib: int = 1024  # space left on the small filesystem once the gateway runs
    shutdown_grace: float = 5
    soak_seconds: float = 180
    soak_interval: float = 10

    @classmethod
    def quick(cls) -> "FaultSettings":
        return cls(calm_seconds=4, disk_seconds=8, soak_seconds=24, soak_interval=3)


@dataclass
class FaultContext:
    """One aibridge build (``leg``: "aibridge" or "baseline") and the run's upstreams."""

    leg: str
    executable: str
    procs: Processes
    work: Path
    nginx: Nginx
    slow: object  # run.SlowUpstream
    settings: FaultSettings
    log: object = print

    def gateway(self, case: str, data_dir: Path | None = None) -> Aibridge:
        """A fresh gateway for one case: Anthropic to nginx (blocking), OpenAI to the slow upstream (streams)."""
        return Aibridge(
            self.procs, self.work, f"{self.leg}-fault-{case}", self.executable,
            openai_base=f"{self.slow.base}/v1", anthropic_base=self.nginx.base, data_dir=data_dir,
            env={"CODER_SHUTDOWN_GRACE": f"{self.settings.shutdown_grace:g}s"},
        )

    def upstream_mark(self) -> tuple[int, int]:
        return self.nginx.log_mark(), self.slow.stats()["requests"]

    def upstream_calls_since(self, mark: tuple[int, int]) -> int:
        """Answers nginx served plus streams the slow upstream started, since ``mark``."""
        return Nginx.answered(self.nginx.calls_since(mark[0])) + self.slow.stats()["requests"] - mark[1]
