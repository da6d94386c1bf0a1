#!/usr/bin/env bash
# One command for the whole benchmark: install what it needs, then run bench/run.py.
#   bench/run.sh [run.py options]     e.g. bench/run.sh --profile, bench/run.sh --quick,
#                                          bench/run.sh --baseline HEAD~1, bench/run.sh --scenario faults,
#                                          bench/run.sh --scenario resilience
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH")"
WORK="$BENCH/.work"
mkdir -p "$WORK"

want_litellm=1
want_profile=0
scenarios=""
prev=""
for arg in "$@"; do
    [[ "$prev" == "--skip" && "$arg" == "litellm" ]] && want_litellm=0
    [[ "$arg" == "--skip=litellm" ]] && want_litellm=0
    [[ "$arg" == "--profile" ]] && want_profile=1
    [[ "$prev" == "--scenario" ]] && scenarios="$scenarios,$arg"
    [[ "$arg" == --scenario=* ]] && scenarios="$scenarios,${arg#--scenario=}"
    prev="$arg"
done
# LiteLLM is only in the load scenarios (main, bodies), not in faults, postgres or resilience.
if [[ -n "$scenarios" && "$scenarios" != *main* && "$scenarios" != *bodies* ]]; then
    want_litellm=0
fi

as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

# nginx (the fast fake upstream) and wrk (the blocking load generator), from Debian packages.
if ! command -v wrk >/dev/null || ! { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }; then
    echo "installing nginx and wrk (apt)"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx wrk
fi

# The Python that runs the harness and aibridge: the repository's .venv, or one made here.
PY="${AIBRIDGE_PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x "$REPO/.venv/bin/aibridge" ]]; then
        PY="$REPO/.venv/bin/python"
    else
        if [[ ! -x "$WORK/aibridge-venv/bin/aibridge" ]]; then
            echo "installing aibridge into $WORK/aibridge-venv"
            python3 -m venv "$WORK/aibridge-venv"
            "$WORK/aibridge-venv/bin/pip" install -q -e "$REPO"
        fi
        PY="$WORK/aibridge-venv/bin/python"
    fi
fi

# LiteLLM in its own virtualenv: its dependency pins must not touch aibridge's.
if [[ "$want_litellm" == 1 && ! -x "$WORK/litellm-venv/bin/litellm" ]]; then
    echo "installing litellm[proxy] into $WORK/litellm-venv (a few minutes, once)"
    python3 -m venv "$WORK/litellm-venv"
    "$WORK/litellm-venv/bin/pip" install -q --upgrade pip
    "$WORK/litellm-venv/bin/pip" install -q 'litellm[proxy]'
fi

if [[ "$want_profile" == 1 && ! -x "$WORK/tools-venv/bin/py-spy" ]]; then
    echo "installing py-spy into $WORK/tools-venv"
    python3 -m venv "$WORK/tools-venv"
    "$WORK/tools-venv/bin/pip" install -q py-spy
fi

# 10,000 open streams need ~20,000 descriptors in the gateway (run.py checks and says so).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$REPO"
exec "$PY" "$BENCH/run.py" "$@"
