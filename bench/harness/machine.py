"""Describe the machine a run happened on: CPU, cores, memory, kernel, tool versions."""

from __future__ import annotations

import os
import platform
import re


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def describe(versions: dict[str, str]) -> dict:
    """Everything the report prints about the machine."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "os": _os_name(),
        "versions": versions,
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def short_name(machine: dict) -> str:
    """A file-name-safe summary like ``2core-intel-xeon-platinum-8375c-24g``."""
    cpu = machine["cpu"].lower()
    cpu = re.sub(r"\((r|tm)\)|cpu|@.*$|processor|\d+-core", " ", cpu)
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")
    return f"{machine['cores']}core-{cpu}-{round(machine['memory_gib'])}g"
