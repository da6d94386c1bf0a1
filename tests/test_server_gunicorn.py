"""The gunicorn deployment of docs/deployment.md: its configuration file, started for real."""

import re
import signal

import requests
from support.server_process import gunicorn, gunicorn_conf  # noqa: F401 (gunicorn_conf: a fixture)


def test_gunicorn_serves_and_shuts_down_cleanly(aibridge_script, spawn, process_environ, gunicorn_conf, tmp_path):
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path / "data")}
    master = spawn(gunicorn(aibridge_script, gunicorn_conf), environ)
    url = master.wait_for_line(r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
    for _ in range(2):  # both workers loaded the app (a SIGTERM earlier would kill one mid-boot)
        master.wait_for_line(r"aibridge worker \d+ ready")
    response = requests.get(url + "/healthz", timeout=30)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0, master.stderr
    assert len(re.findall(r"aibridge worker \d+ shut down", master.stderr)) == 2, master.stderr
    assert "Traceback" not in master.stderr
    assert (tmp_path / "data" / "aibridge.db").exists()


def test_gunicorn_configuration_error_is_one_line(aibridge_script, spawn, process_environ, gunicorn_conf, tmp_path):
    environ = {**process_environ, "CODER_DATA_DIR": str(tmp_path / "data"), "CODER_AIBRIDGE_RETENTION": "forever"}
    master = spawn(gunicorn(aibridge_script, gunicorn_conf), environ)
    assert master.wait() == 2
    last_line = master.stderr_lines[-1]  # after gunicorn's own "Starting gunicorn" line
    assert last_line.startswith("aibridge: error: CODER_AIBRIDGE_RETENTION: invalid duration 'forever'")
    assert "Traceback" not in master.stderr
