"""Every ``$ aibridge ...`` example of docs/recording.md's command-line section runs as written.

Each runs in a shell whose stdout is a terminal, as when a person types it
(``| jq`` and ``> file`` then give aibridge a pipe or a file, as they do there).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from pathlib import Path

import pytest
from support.terminal import run_on_terminal
from support.recorder_support import RecordingApp, make_interception, user_with_token

DOC = (Path(__file__).resolve().parent.parent / "docs" / "recording.md").read_text()
SECTION = re.search(r"^## Command line\n(.*?)(?=^## |\Z)", DOC, re.M | re.S).group(1)
EXAMPLES = re.findall(r"^\$ (aibridge .*)$", SECTION, re.M)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """alice's interceptions: one an hour ago, one on 2025-06-01."""
    path = tmp_path_factory.mktemp("examples")
    recording = RecordingApp(path)
    alice, _ = user_with_token(recording.database_path, "alice")
    for iid, started in (("recent", dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)),
                         ("june", dt.datetime(2025, 6, 1, 9, tzinfo=dt.timezone.utc))):  # fmt: skip
        recording.record(make_interception(iid, initiator_id=alice, started_at=started))
    recording.wait_written()
    recording.close()
    return path


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_example_runs_as_written(example, data_dir, process_environ, tmp_path):
    if "| jq" in example and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    environ = {**process_environ, "CODER_DATA_DIR": str(data_dir),
               "PATH": f"{Path(sys.executable).parent}:{process_environ['PATH']}"}  # fmt: skip
    done = run_on_terminal(["bash", "-e", "-o", "pipefail", "-c", f"cd {tmp_path} && {example}"], environ)
    assert done.returncode == 0 and done.piped == "", done.piped  # stderr: no error, no progress in a pipe
    shown = re.search(rf"^\$ {re.escape(example)}\n((?:[^$`].*\n)+)", SECTION, re.M)
    if shown:  # the doc shows what it prints: the same first line (headings, CSV header), or a count
        first = shown.group(1).splitlines()[0]
        printed = re.sub(r"\x1b\[[0-9;]*m", "", done.terminal.splitlines()[0])  # jq colours on a terminal
        if first.isdigit():
            assert printed.isdigit()
        else:
            assert printed.split() == first.split()


def test_the_section_has_examples():
    assert len(EXAMPLES) >= 7
