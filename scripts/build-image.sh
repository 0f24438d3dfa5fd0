#!/usr/bin/env bash
# Build the static ci-medic binary and its FROM-scratch image, then prove the
# image works in an empty root.
#
#   scripts/build-image.sh [--no-build]
#
# Steps, each of which stops the script with a non-zero exit when it fails:
#   1. Install what is missing with apt-get (podman, runc, python3, binutils;
#      needs root or sudo).
#   2. cargo build --release --locked --target x86_64-unknown-linux-gnu with
#      +crt-static; check that the binary has no dynamic dependencies.
#   3. Median start-up time of `ci-medic --version`.
#   4. Build the image with podman from that binary (Dockerfile target
#      `from-binary`; FROM scratch pulls nothing, so no network is needed).
#   5. Export a container of the image into a directory and run
#      `chroot DIR /ci-medic --version` there, plus an offline
#      `analyze --log` when fixtures/logs/ holds a log.
#   6. Name resolution in that empty root: /etc/hosts maps ghapi.test to
#      127.0.0.1, a local HTTP server answers, and the binary must reach it by
#      name (a failed lookup fails the script).
#   7. When podman can also run containers on this machine, the same checks
#      through `podman run` (skipped, with the reason, when it cannot).
#
# Environment:
#   CARGO_TARGET_DIR  build directory (default: target/static, kept apart from
#                     the dev build)
#   IMAGE             image name (default: localhost/ci-medic:dev)
#   PODMAN_ROOT       podman storage used by this script (default:
#                     $CARGO_TARGET_DIR/podman), so it never clashes with the
#                     machine's own podman configuration
#   SIZE_LIMIT_MB     largest acceptable image (default: 15)
#   STARTUP_RUNS      runs timed for the start-up median (default: 11)
#   FIXTURE_LOGS      where to find a log for the offline analyze check
#                     (default: fixtures/logs)
#
# Works as root on a fresh Debian machine with CI=true and no stdin.

set -euo pipefail
exec </dev/null

readonly TRIPLE=x86_64-unknown-linux-gnu
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT_DIR
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT_DIR/target/static}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$ROOT_DIR/$CARGO_TARGET_DIR" ;; esac
readonly BIN="$CARGO_TARGET_DIR/$TRIPLE/release/ci-medic"
readonly IMAGE="${IMAGE:-localhost/ci-medic:dev}"
readonly PODMAN_ROOT="${PODMAN_ROOT:-$CARGO_TARGET_DIR/podman}"
readonly SIZE_LIMIT_MB="${SIZE_LIMIT_MB:-15}"
readonly STARTUP_RUNS="${STARTUP_RUNS:-11}"
readonly FIXTURE_LOGS="${FIXTURE_LOGS:-$ROOT_DIR/fixtures/logs}"

BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "build-image: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }
figure() { printf '%-38s %s\n' "$1:" "$2"; }
die() {
    printf 'build-image: FAILED: %s\n' "$*" >&2
    exit 1
}
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ci-medic-image.XXXXXX")"
SERVER_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    # The storage is this script's own: every container in it is ours (one a
    # `timeout` cut short may have outlived its --rm).
    if [[ -d "$PODMAN_ROOT/storage" ]] && command -v podman >/dev/null 2>&1; then
        podman_ rm --all --force >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# podman with settings that work without systemd, without a writable cgroup
# tree and without overlay support: vfs storage in a private root, cgroupfs,
# events to a file.
PODMAN=(
    podman
    --root "$PODMAN_ROOT/storage"
    --runroot "$PODMAN_ROOT/run"
    --tmpdir "$PODMAN_ROOT/tmp"
    --storage-driver vfs
    --cgroup-manager cgroupfs
    --events-backend file
)
podman_() { "${PODMAN[@]}" "$@"; }

# Microseconds since the epoch, from bash's own clock (no fork).
now_us() {
    local t="${EPOCHREALTIME/./}"
    printf '%s' "$t"
}

# Median wall time in ms of a command run $STARTUP_RUNS times (output discarded).
median_ms() {
    local i start end
    local -a samples=()
    for ((i = 0; i < STARTUP_RUNS; i++)); do
        start="$(now_us)"
        "$@" >/dev/null 2>&1 || return 1
        end="$(now_us)"
        samples+=("$((end - start))")
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk '
        { v[NR] = $1 }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f ms (min %.2f, max %.2f, %d runs)", m / 1000, v[1] / 1000, v[NR] / 1000, NR
        }'
}

# ---------------------------------------------------------------------------
step "1. tools"
# What a fresh Debian machine may lack: podman (runc next to it, because crun
# refuses hosts with hybrid cgroup v1/v2 mounts), python3 for the local HTTP
# server, binutils for readelf.
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman runc)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
if ((${#missing[@]} > 0)); then
    echo "installing with apt-get: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" || die "apt-get install ${missing[*]}"
fi
for tool in podman python3 readelf chroot tar gzip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
mkdir -p "$PODMAN_ROOT/storage" "$PODMAN_ROOT/run" "$PODMAN_ROOT/tmp"
figure "podman" "$(podman --version) (storage vfs in $PODMAN_ROOT, cgroupfs, file events)"

# ---------------------------------------------------------------------------
step "2. static release binary ($TRIPLE, +crt-static)"
if [[ "$BUILD" -eq 1 ]]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
    (
        cd "$ROOT_DIR"
        # An explicit --target keeps these flags off build scripts and proc macros.
        RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
            CARGO_TERM_COLOR=never \
            cargo build --release --locked --target "$TRIPLE" --bin ci-medic
    ) || die "cargo build"
fi
[[ -x "$BIN" ]] || die "no binary at $BIN (run without --no-build)"
# Captured first: with pipefail, `readelf | grep -q` can fail on readelf's
# SIGPIPE once grep has its match, and a dynamic binary would pass.
DYNAMIC="$(readelf -d "$BIN" 2>&1)" || die "readelf -d $BIN"
HEADERS="$(readelf -l "$BIN" 2>&1)" || die "readelf -l $BIN"
if grep -q '(NEEDED)' <<<"$DYNAMIC"; then
    grep '(NEEDED)' <<<"$DYNAMIC" >&2
    die "the binary is dynamically linked"
fi
if grep -q 'Requesting program interpreter' <<<"$HEADERS"; then
    die "the binary asks for a program interpreter"
fi
VERSION="$("$BIN" --version)" || die "$BIN --version"
BIN_BYTES="$(stat -c %s "$BIN")"
GZ_BYTES="$(gzip -9 -c "$BIN" | wc -c)"
figure "binary" "$VERSION, static (no NEEDED entries, no interpreter)"
figure "binary size" "$BIN_BYTES bytes ($(mib "$BIN_BYTES"))"
figure "binary size gzip -9" "$GZ_BYTES bytes ($(mib "$GZ_BYTES"))"

# ---------------------------------------------------------------------------
step "3. start-up time of ci-medic --version"
STARTUP="$(median_ms "$BIN" --version)" || die "timing ci-medic --version"
figure "startup median (--version)" "$STARTUP"

# ---------------------------------------------------------------------------
step "4. image from the local binary (Dockerfile target from-binary)"
CONTEXT="$WORK/context"
mkdir -p "$CONTEXT"
cp "$BIN" "$CONTEXT/ci-medic"
podman_ build \
    --pull=never \
    --target from-binary \
    --file "$ROOT_DIR/Dockerfile" \
    --tag "$IMAGE" \
    "$CONTEXT" || die "podman build (see podman's error above)"
# Earlier builds of the same tag are left untagged: drop them.
podman_ image prune --force >/dev/null 2>&1 || true
IMAGE_BYTES="$(podman_ image inspect --format '{{.Size}}' "$IMAGE")" || die "podman image inspect"
figure "image" "$IMAGE"
figure "image size" "$IMAGE_BYTES bytes ($(mib "$IMAGE_BYTES"))"
figure "image size limit" "$SIZE_LIMIT_MB MB"
if ((IMAGE_BYTES >= SIZE_LIMIT_MB * 1000 * 1000)); then
    die "image is $IMAGE_BYTES bytes, over the $SIZE_LIMIT_MB MB limit"
fi
ENTRYPOINT="$(podman_ image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE")"
figure "entrypoint, cmd" "$ENTRYPOINT"
ARCHIVE="$CARGO_TARGET_DIR/ci-medic-image.tar"
rm -f "$ARCHIVE"
podman_ save --quiet --format docker-archive --output "$ARCHIVE" "$IMAGE" || die "podman save"
figure "image archive (docker load -i)" "$ARCHIVE"

# ---------------------------------------------------------------------------
step "5. the image's root filesystem, exported and run with chroot"
CONTAINER="$(podman_ create "$IMAGE" --version)" || die "podman create"
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"
podman_ export "$CONTAINER" | tar -C "$ROOTFS" -xf - || die "podman export"
podman_ rm "$CONTAINER" >/dev/null || true
echo "files in the exported root:"
(cd "$ROOTFS" && find . -mindepth 1 -printf '  %M %10s %p\n' | sort -k3)
OTHER_FILES="$(cd "$ROOTFS" && find . -mindepth 1 ! -type d ! -path ./ci-medic)"
[[ -z "$OTHER_FILES" ]] || die "the image holds more than /ci-medic: $OTHER_FILES"
# env -i: the container starts with nothing from this shell's environment.
CHROOT="$(command -v chroot)" || die "chroot not found"
CHROOT_VERSION="$(env -i "$CHROOT" "$ROOTFS" /ci-medic --version)" || die "chroot DIR /ci-medic --version"
figure "chroot /ci-medic --version" "$CHROOT_VERSION"
CHROOT_STARTUP="$(median_ms env -i "$CHROOT" "$ROOTFS" /ci-medic --version)" || die "timing chroot run"
figure "startup median in chroot" "$CHROOT_STARTUP"

FIXTURE=""
if [[ -d "$FIXTURE_LOGS" ]]; then
    # `sed -n 1p` reads to the end: no SIGPIPE for sort under pipefail.
    FIXTURE="$(find "$FIXTURE_LOGS" -type f \( -name '*.log' -o -name '*.txt' -o -name '*.zip' \) | sort | sed -n 1p)"
fi
if [[ -n "$FIXTURE" ]]; then
    mkdir -p "$ROOTFS/logs"
    cp "$FIXTURE" "$ROOTFS/logs/"
    name="$(basename "$FIXTURE")"
    if ANALYSIS="$(env -i "$CHROOT" "$ROOTFS" /ci-medic analyze --log "/logs/$name" 2>&1)"; then
        figure "offline analyze in chroot" "ok (${FIXTURE#"$ROOT_DIR"/})"
        printf '%s\n' "$ANALYSIS" | sed -n '1,15s/^/  | /p'
    else
        printf '%s\n' "$ANALYSIS" | tail -n 15 | sed 's/^/  | /' >&2
        die "chroot DIR /ci-medic analyze --log ${FIXTURE#"$ROOT_DIR"/}"
    fi
    rm -rf "$ROOTFS/logs"
else
    figure "offline analyze in chroot" "skipped (no log in $FIXTURE_LOGS)"
fi

# ---------------------------------------------------------------------------
step "6. name resolution in the empty root"
mkdir -p "$WORK/www"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT="$(sed -n '/ port [0-9]/{s/.* port \([0-9][0-9]*\).*/\1/p;q;}' "$WORK/http.log")"
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n "$PORT" ]] || die "the local HTTP server did not start: $(cat "$WORK/http.log")"
figure "local HTTP server" "127.0.0.1:$PORT"

# What Docker puts in every container: /etc/hosts and /etc/resolv.conf, and
# nothing else (no nsswitch.conf, no libnss_*.so).
mkdir -p "$ROOTFS/etc"
printf '127.0.0.1\tlocalhost\n127.0.0.1\tghapi.test\n' >"$ROOTFS/etc/hosts"
if [[ -r /etc/resolv.conf ]]; then
    cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
else
    printf 'nameserver 127.0.0.1\n' >"$ROOTFS/etc/resolv.conf"
fi

# Prints one of: resolved | dns-failure | inconclusive, given the command's
# output and the server log line count before it ran.
classify() {
    local output="$1" before="$2" after
    after="$(grep -c '"[A-Z]* /' "$WORK/http.log" || true)"
    if ((after > before)); then
        echo resolved
    elif grep -qiE 'dns|resolv|lookup|name or service not known|temporary failure in name resolution|no address associated|getaddrinfo' <<<"$output"; then
        echo dns-failure
    else
        echo inconclusive
    fi
}

dns_check() { # label, command...
    local label="$1" before output rc verdict
    shift
    before="$(grep -c '"[A-Z]* /' "$WORK/http.log" || true)"
    set +e
    output="$(timeout 60 "$@" 2>&1)"
    rc=$?
    set -e
    verdict="$(classify "$output" "$before")"
    case "$verdict" in
        resolved)
            figure "$label" "resolved ghapi.test, HTTP request reached the server (exit $rc)"
            grep '"[A-Z]* /' "$WORK/http.log" | tail -n +"$((before + 1))" | sed -n '1,3s/^/  server saw: /p'
            ;;
        dns-failure)
            figure "$label" "NAME RESOLUTION FAILED (exit $rc)"
            printf '%s\n' "$output" | tail -n 10 | sed 's/^/  | /' >&2
            return 1
            ;;
        *)
            figure "$label" "inconclusive: no request reached the server and no resolver error (exit $rc)"
            printf '%s\n' "$output" | tail -n 10 | sed 's/^/  | /'
            ;;
    esac
}

DNS_ARGS=(--api-url "http://ghapi.test:$PORT" --repo o/r --token x analyze --run-id 1)
dns_check "DNS in chroot (/etc/hosts)" env -i "$CHROOT" "$ROOTFS" /ci-medic "${DNS_ARGS[@]}" ||
    die "ci-medic cannot resolve host names in an empty root (glibc NSS)"

# ---------------------------------------------------------------------------
step "7. podman run (optional: needs a usable OCI runtime on this machine)"
# Candidate settings, tried in order; the first that starts the image wins.
# Sandboxes without CAP_SYS_RESOURCE cannot raise rlimits to podman's
# defaults, and crun refuses hosts with hybrid cgroup v1/v2 mounts.
RUN_GLOBAL=()
RUN_OPTS=()
RUN_OK=0
RUN_ERR=""
runtimes=("")
if command -v runc >/dev/null 2>&1; then runtimes+=("runc"); fi
for runtime in "${runtimes[@]}"; do
    for limits in "" "nofile=1024:1024 nproc=4096:4096"; do
        g=()
        o=()
        [[ -n "$runtime" ]] && g=(--runtime "$runtime")
        for l in $limits; do o+=(--ulimit "$l"); done
        if out="$(timeout 120 "${PODMAN[@]}" "${g[@]}" run --rm --network none "${o[@]}" "$IMAGE" --version 2>&1)"; then
            RUN_GLOBAL=("${g[@]}")
            RUN_OPTS=("${o[@]}")
            RUN_OK=1
            break 2
        fi
        RUN_ERR="$(printf '%s\n' "$out" | tail -n 1)"
        echo "  podman ${g[*]} run ${o[*]}: $RUN_ERR"
    done
done
if [[ "$RUN_OK" -eq 1 ]]; then
    figure "podman run --version" "$out"
    figure "podman run flags" "${RUN_GLOBAL[*]:-(default runtime)} run --network none ${RUN_OPTS[*]:-}"
    RUN_STARTUP="$(median_ms podman_ "${RUN_GLOBAL[@]}" run --rm --network none "${RUN_OPTS[@]}" "$IMAGE" --version)" ||
        die "timing podman run"
    figure "container start median" "$RUN_STARTUP (podman run --version)"
    # The container's /etc/hosts and /etc/resolv.conf are written by podman,
    # as Docker does on a runner.
    dns_check "DNS in podman run (--add-host)" \
        "${PODMAN[@]}" "${RUN_GLOBAL[@]}" run --rm --network host --add-host ghapi.test:127.0.0.1 "${RUN_OPTS[@]}" \
        "$IMAGE" "${DNS_ARGS[@]}" ||
        die "ci-medic cannot resolve host names inside a podman container"
else
    figure "podman run" "not possible on this machine (last error: $RUN_ERR); the chroot checks above stand in for it"
fi

step "done"
figure "binary size" "$BIN_BYTES bytes ($(mib "$BIN_BYTES"))"
figure "image size" "$IMAGE_BYTES bytes ($(mib "$IMAGE_BYTES"))"
figure "startup median (--version)" "$STARTUP"
figure "startup median in chroot" "$CHROOT_STARTUP"
if [[ "$RUN_OK" -eq 1 ]]; then
    figure "container start median" "$RUN_STARTUP"
fi
