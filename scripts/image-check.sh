#!/usr/bin/env bash
# Build the container image and run it end to end on this machine, with no registry and no
# network traffic beyond the loopback:
#
#   1. a Docker engine: the one already running, or one this script starts without a bridge
#      network (dockerd --bridge=none --iptables=false) and stops again, by its process id;
#   2. a base image built from Debian's own packages (debootstrap bookworm, then docker import),
#      cached in .cache/image-check/ so that reruns skip it;
#   3. `docker build --network host --build-arg BASE_IMAGE=<that base>`, pip in the build reading
#      the locked wheels from a web server on 127.0.0.1 (fetched by pip on the host, cached);
#   4. the image run with --network host against a Slack stand-in on 127.0.0.1 and a database of
#      its own on the local PostgreSQL (dropped afterwards), until its HEALTHCHECK says healthy;
#      then GET /healthz from the host.
#
# Run as root (it may install docker.io and debootstrap with apt-get). `make image-check` runs it
# with the project's virtual environment (for the stand-in and the database set-up).
# Settings: PYTHON (default .venv/bin/python), PG_URL (postgresql://postgres@127.0.0.1:5432),
# IMAGE (default ai-signal:check), SUITE (bookworm), MIRROR (http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432}
IMAGE=${IMAGE:-ai-signal:check}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=.cache/image-check
BASE_TAR=$CACHE/debian-$SUITE-python3.tar
BASE_IMAGE=ai-signal-base:$SUITE
RUN_DIR=$(mktemp -d /tmp/ai-signal-image-check.XXXXXX)
CHECK_DB=ai_signal_image_check_$$
CONTAINER=ai-signal-image-check-$$

DOCKERD_PID=""
STANDIN_PID=""
WHEEL_SERVER_PID=""
DB_CREATED=""

say() { printf 'image-check: %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

cleanup() {
    local rc=$?
    set +e
    if [ -n "${DOCKER_READY:-}" ]; then
        if docker container inspect "$CONTAINER" >/dev/null 2>&1; then
            if [ "$rc" -ne 0 ]; then
                say "container log:"
                docker logs "$CONTAINER" 2>&1 | tail -n 40
            fi
            docker rm --force "$CONTAINER" >/dev/null
        fi
    fi
    if [ -n "$WHEEL_SERVER_PID" ]; then
        kill "$WHEEL_SERVER_PID" 2>/dev/null
        wait "$WHEEL_SERVER_PID" 2>/dev/null
    fi
    if [ -n "$STANDIN_PID" ]; then
        kill "$STANDIN_PID" 2>/dev/null
        wait "$STANDIN_PID" 2>/dev/null
    fi
    if [ -n "$DB_CREATED" ]; then
        "$PYTHON" - "$PG_URL" "$CHECK_DB" <<'PY'
import sys

import psycopg

with psycopg.connect(sys.argv[1] + "/postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
PY
        say "dropped database $CHECK_DB"
    fi
    if [ -n "$DOCKERD_PID" ]; then
        say "stopping the Docker engine this script started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID"
        # The engine leaves its network namespace mounted under its exec root.
        grep -o "$RUN_DIR/[^ ]*" /proc/mounts | sort -r | xargs -r -n 1 umount
    fi
    rm -rf "$RUN_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the engine -----------------------------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v containerd >/dev/null \
    || ! command -v debootstrap >/dev/null; then
    say "installing docker.io and debootstrap from Debian's packages"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap
fi

export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed
if ! docker info >/dev/null 2>&1; then
    say "starting a Docker engine without a bridge network"
    export DOCKER_HOST=unix://$RUN_DIR/docker.sock
    dockerd --bridge=none --iptables=false --ip6tables=false \
        --host "$DOCKER_HOST" --pidfile "$RUN_DIR/docker.pid" \
        --exec-root "$RUN_DIR/exec" >"$RUN_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { cat "$RUN_DIR/dockerd.log"; exit 1; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -n 20 "$RUN_DIR/dockerd.log"; exit 1; }
fi
DOCKER_READY=1
say "engine: $(docker version --format 'server {{.Server.Version}}, storage driver ')$(docker info --format '{{.Driver}}')"

# --- 2. the base image -------------------------------------------------------------------------
if [ ! -s "$BASE_TAR" ]; then
    say "building a Debian $SUITE base with debootstrap (a few minutes; cached in $CACHE)"
    started=$(now)
    mkdir -p "$CACHE"
    rootfs=$RUN_DIR/rootfs
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$RUN_DIR/debootstrap.log" 2>&1 \
        || { tail -n 20 "$RUN_DIR/debootstrap.log"; exit 1; }
    # What a container image does not need: package lists, caches, documentation.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.part" .
    mv "$BASE_TAR.part" "$BASE_TAR"
    rm -rf "$rootfs"
    say "base built in $(since "$started"): $(du -h "$BASE_TAR" | cut -f1) tarball"
fi
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
    || [ "$BASE_TAR" -nt "$CACHE/imported-$SUITE" ]; then
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
    touch "$CACHE/imported-$SUITE"
fi
say "base image $BASE_IMAGE: $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

# --- 3. the build ------------------------------------------------------------------------------
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# The build reaches no package index: pip on the host fetches the locked wheels (checking their
# hashes) into a cached folder, which a web server on the loopback offers to the build.
WHEELS=$CACHE/wheels
started=$(now)
{
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        --require-hashes -r requirements.lock --dest "$WHEELS"
    # The build backend pyproject.toml names.
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        'setuptools>=64' --dest "$WHEELS"
} >"$RUN_DIR/pip-download.log" 2>&1 || { cat "$RUN_DIR/pip-download.log"; exit 1; }
say "locked wheels ready in $(since "$started"): $(find "$WHEELS" -name '*.whl' | wc -l) in $WHEELS"
WHEEL_PORT=$(free_port)
"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$WHEELS" "$WHEEL_PORT" \
    >"$RUN_DIR/wheels.log" 2>&1 &
WHEEL_SERVER_PID=$!
for _ in $(seq 1 100); do
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://127.0.0.1:$WHEEL_PORT/" 2>/dev/null && break
    sleep 0.1
done

started=$(now)
docker build --quiet --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg PIP_NO_INDEX=1 --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$WHEEL_PORT/" \
    --tag "$IMAGE" . >/dev/null
build_time=$(since "$started")
image_size=$(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')
say "built $IMAGE in $build_time: $image_size"
kill "$WHEEL_SERVER_PID"
wait "$WHEEL_SERVER_PID" 2>/dev/null || true
WHEEL_SERVER_PID=""

# --- 4. run it ---------------------------------------------------------------------------------
APP_PORT=$(free_port)

"$PYTHON" - "$PG_URL" "$CHECK_DB" <<'PY'
import sys

import psycopg

with psycopg.connect(sys.argv[1] + "/postgres", autocommit=True) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY
DB_CREATED=1
say "created database $CHECK_DB"

# The Slack stand-in the tests and the demo use, on the loopback; it writes its port when ready
# and, on SIGTERM, which Web API methods the app called.
"$PYTHON" - "$RUN_DIR" <<'PY' &
import signal
import sys
import threading
from pathlib import Path

from bot.standin import SlackStandIn

run_dir = Path(sys.argv[1])
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with SlackStandIn(bot_token="xoxb-image-check") as slack:
    slack.add_channel("CCHECKTRIAGE", name="ai-triage")
    (run_dir / "standin.port.part").write_text(str(slack.port))
    (run_dir / "standin.port.part").rename(run_dir / "standin.port")
    stop.wait()
    methods = sorted({call.method for call in slack.calls})
    (run_dir / "standin.calls").write_text(" ".join(methods))
PY
STANDIN_PID=$!
for _ in $(seq 1 100); do [ -s "$RUN_DIR/standin.port" ] && break; sleep 0.1; done
SLACK_PORT=$(cat "$RUN_DIR/standin.port")

started=$(now)
docker run --detach --name "$CONTAINER" --network host \
    --health-interval 1s --health-start-period 60s \
    -e SLACK_BOT_TOKEN=xoxb-image-check \
    -e SLACK_SIGNING_SECRET=image-check-signing-secret \
    -e SLACK_API_URL="http://127.0.0.1:$SLACK_PORT/api/" \
    -e DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$CHECK_DB" \
    -e AI_SIGNAL_TRIAGE_CHANNEL=CCHECKTRIAGE \
    -e PORT="$APP_PORT" \
    "$IMAGE" run --http --host 127.0.0.1 >/dev/null
status=starting
for _ in $(seq 1 120); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$CONTAINER" 2>/dev/null || echo gone)
    [ "$status" = starting ] || break
    [ "$(docker inspect --format '{{.State.Running}}' "$CONTAINER")" = true ] || break
    sleep 0.5
done
[ "$status" = healthy ] || { say "container is $status, not healthy"; exit 1; }
say "container healthy $(since "$started") after docker run"

health=$("$PYTHON" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$APP_PORT/healthz")
say "GET /healthz: $health"
case $health in *'"status": "ok"'*'"database": "ok"'*) ;; *) say "unexpected /healthz"; exit 1 ;; esac

user=$(docker exec "$CONTAINER" id -u)
[ "$user" != 0 ] || { say "the app runs as root"; exit 1; }
say "runs as uid $user"

revision=$("$PYTHON" - "$PG_URL" "$CHECK_DB" <<'PY'
import sys

import psycopg

with psycopg.connect(f"{sys.argv[1]}/{sys.argv[2]}") as conn:
    print(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
PY
)
say "migrated at start to revision $revision"

docker stop --time 20 "$CONTAINER" >/dev/null
exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$CONTAINER")
[ "$exit_code" = 0 ] || { say "stopped with exit code $exit_code"; exit 1; }
kill "$STANDIN_PID"
wait "$STANDIN_PID" || true
STANDIN_PID=""
say "stopped cleanly on SIGTERM; Slack methods called: $(cat "$RUN_DIR/standin.calls")"
say "OK: image $image_size, built in $build_time"
