#!/usr/bin/env bash
# Starts the test ClickHouse (the chdb engine behind server.py) in the
# background and, once it answers /ping, prints one line on stdout:
#
#   CLICKHOUSE_URL=http://127.0.0.1:PORT
#
# Everything else goes to stderr. The Python environment is `.venv/` at the
# repository root, created and filled from requirements.txt when needed.
#
# Environment:
#   CLICKHOUSE_PORT       port to listen on (default: a free one)
#   CLICKHOUSE_STATE_DIR  where the pid, port and log files go (default: a new temp dir)
#   CLICKHOUSE_USER / CLICKHOUSE_PASSWORD  credentials the server accepts
#                         (default: user `default`, empty password)
#   PYTHON                interpreter that creates the venv (default: python3)
#   CLICKHOUSE_STOP_WITH_STDIN=1  the server inherits this script's stdin and
#                         stops when it reaches end of file: a caller that holds
#                         the pipe's write end until it exits takes the server
#                         down with it (the Rust test harness does this)
#
# Stop the server with: kill "$(cat "$CLICKHOUSE_STATE_DIR/pid")"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv" >&2
fi
# Install when requirements.txt differs from what was last installed.
stamp="$venv/.ci-medic-clickhouse-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    echo "installing $here/requirements.txt into $venv" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
        -r "$here/requirements.txt" >&2
    cp "$here/requirements.txt" "$stamp"
fi

state="${CLICKHOUSE_STATE_DIR:-}"
if [ -z "$state" ]; then
    state="$(mktemp -d "${TMPDIR:-/tmp}/ci-medic-clickhouse.XXXXXX")"
fi
mkdir -p "$state"
port_file="$state/port"
log="$state/server.log"
rm -f "$port_file"

server=("$venv/bin/python" "$here/server.py"
    --host 127.0.0.1 --port "${CLICKHOUSE_PORT:-0}" --port-file "$port_file")
if [ "${CLICKHOUSE_STOP_WITH_STDIN:-}" = 1 ]; then
    # Without job control, bash gives a background command /dev/null as its
    # stdin unless a redirection says otherwise: `<&0` keeps ours.
    nohup "${server[@]}" --stop-on-stdin-eof >"$log" 2>&1 <&0 &
else
    nohup "${server[@]}" >"$log" 2>&1 </dev/null &
fi
pid=$!
echo "$pid" >"$state/pid"

ping() {
    "$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys
import urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/ping"
with urllib.request.urlopen(url, timeout=2) as response:
    sys.exit(0 if response.read() == b"Ok.\n" else 1)
PY
}

# The engine takes a few seconds to load; allow a minute on a busy machine.
for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "the test ClickHouse exited during start-up; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    if [ -s "$port_file" ] && ping "$(cat "$port_file")"; then
        port="$(cat "$port_file")"
        echo "test ClickHouse: pid $pid, log $log; stop it with: kill $pid" >&2
        echo "CLICKHOUSE_URL=http://127.0.0.1:$port"
        exit 0
    fi
    sleep 0.1
done

echo "the test ClickHouse did not answer /ping within a minute; its log:" >&2
cat "$log" >&2
kill "$pid" 2>/dev/null || true
exit 1
