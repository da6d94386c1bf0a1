"""Install aibridge into a fresh virtualenv without a package index: from wheels of this test environment.

A wheel is a zip of an installed distribution's files (its RECORD) with its
``.dist-info``, whose WHEEL file carries the tags pip checks. So the wheels
aibridge needs are rebuilt from what the tests run with, and
``pip install --no-index --find-links <wheelhouse>`` installs from them, with
no network. aibridge itself is built from a copy of its source (the build
backend, setuptools and wheel, comes from the wheelhouse too).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCE = ("setup.cfg", "pyproject.toml", "README.md", "aibridge", "plugins")  # what setup.cfg builds from
BUILD_BACKEND = ("setuptools", "wheel")  # pyproject.toml's build-system.requires
_NOT_PACKAGED = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")  # written by the installer, not in wheels


def needed_distributions(root: str, extras: tuple[str, ...]) -> dict[str, Distribution]:
    """Every installed distribution ``root[extras]`` requires, directly or not (by canonical name)."""
    found: dict[str, Distribution] = {}
    pending = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        for text in distribution(name).requires or ():
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in ("", *wanted)]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            key = canonicalize_name(requirement.name)
            if key not in found:
                found[key] = distribution(requirement.name)
                pending.append((requirement.name, tuple(requirement.extras)))
    return found


def build_wheelhouse(directory: Path, root: str = "aibridge", extras: tuple[str, ...] = ("gunicorn",)) -> Path:
    """Wheels of everything ``root[extras]`` needs, and of its build backend, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    dists = needed_distributions(root, extras)
    dists.update({canonicalize_name(name): distribution(name) for name in BUILD_BACKEND})
    dists.pop(canonicalize_name(root), None)
    for dist in dists.values():
        wheel_of(dist, directory)
    return directory


def wheel_of(dist: Distribution, directory: Path) -> Path:
    """A wheel of an installed distribution, named after the tags in its WHEEL file."""
    info_dir = Path(dist._path)  # the .dist-info directory  # noqa: SLF001 (importlib has no public name for it)
    site = info_dir.parent
    tags = [line.split(":", 1)[1].strip() for line in (info_dir / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    path = directory / f"{name}-{dist.version}-{_compressed(tags)}.whl"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
        for file in dist.files or ():
            relative = file.as_posix()
            if relative.startswith("..") or "__pycache__" in relative or file.name in _NOT_PACKAGED:
                continue  # scripts and headers outside site-packages are made again by pip; bytecode too
            data = (site / relative).read_bytes()
            wheel.writestr(relative, data)
            record.append(f"{relative},sha256={_digest(data)},{len(data)}")
        record_name = f"{info_dir.name}/RECORD"
        wheel.writestr(record_name, "\n".join([*record, f"{record_name},,"]) + "\n")
    return path


def source_copy(directory: Path) -> Path:
    """aibridge's source, copied so that building it leaves nothing in the work tree."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in SOURCE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, directory / name)
    return directory


def fresh_venv(directory: Path) -> Path:
    """A new virtualenv (with pip, without this environment's packages); returns its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, capture_output=True, timeout=120)
    return directory / "bin"


def new_user_token(bin_dir: Path, environ: dict[str, str], username: str) -> str:
    """Create a user with the installed ``aibridge`` command and return a gateway token for them."""
    for args in (["users", "create", username], ["tokens", "create", username]):
        done = subprocess.run([bin_dir / "aibridge", *args], env=environ, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def offline_pip_environ(environ: dict[str, str]) -> dict[str, str]:
    """pip without the machine's configuration (no index, no extra links): only what the command line says."""
    return {**environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _compressed(tags: list[str]) -> str:
    """``py3-none-any`` from one tag, ``cp311-cp311-manylinux_a.manylinux_b`` from several (PEP 425)."""
    parts = [sorted({tag.split("-")[i] for tag in tags}) for i in range(3)]
    return "-".join(".".join(values) for values in parts)


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
