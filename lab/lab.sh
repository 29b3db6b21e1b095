#!/usr/bin/env bash
# Create, inspect or destroy the lab: Debian 12 containers running systemd, one per inventory host.
#   lab/lab.sh up | down | status
# The hosts and their groups live in inventories/lab/hosts.yml; container names come from there too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"

LAB_NETWORK=mutuapix-lab
# A fixed subnet, so the inventory can name the lab's S3 endpoint (on the bridge's gateway address).
LAB_SUBNET=172.30.57.0/24
LAB_GATEWAY=172.30.57.1
LAB_S3_PORT=9000
LAB_STATE="$here/../.lab"
# host name -> container name, as in inventories/lab/host_vars/<host>.yml (ansible_host).
LAB_HOSTS=(lab-app lab-db)

container_for() { echo "mutuapix-$1"; }

# The flags that let systemd run as PID 1 in a container on this kind of machine (no --privileged).
systemd_container_flags() {
  echo --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /run/lock --volume /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns=host \
    --stop-signal SIGRTMIN+3
}

wait_for_systemd() {
  local container=$1 state=""
  local _
  for _ in $(seq 1 60); do
    state=$(docker exec "$container" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running|degraded) return 0 ;;
    esac
    sleep 1
  done
  echo "systemd in $container did not finish booting (state: ${state:-unknown})" >&2
  return 1
}

start_host() {
  local host=$1 container
  container=$(container_for "$host")
  local want have
  want=$(docker image inspect -f '{{.Id}}' "$LAB_IMAGE_NAME:latest")
  have=$(docker inspect -f '{{if .State.Running}}{{.Image}}{{end}}' "$container" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then
    echo "$host: running ($container)"
    return 0
  fi
  # Absent, stopped, or built from an older image: start afresh from the current one.
  docker rm -f "$container" >/dev/null 2>&1 || true
  # shellcheck disable=SC2046
  docker run --detach --name "$container" --hostname "$host" --network "$LAB_NETWORK" \
    $(systemd_container_flags) "$LAB_IMAGE_NAME:latest" >/dev/null
  wait_for_systemd "$container"
  echo "$host: started ($container)"
}

# The lab's off-site store: moto's S3-compatible server (from .venv-s3) listening on the lab bridge's
# gateway address, reachable from the lab containers and nowhere else.
s3_answers() { curl -s -o /dev/null --max-time 2 "http://$LAB_GATEWAY:$LAB_S3_PORT/moto-api/"; }

start_s3() {
  if s3_answers; then
    echo "lab-s3: running (http://$LAB_GATEWAY:$LAB_S3_PORT)"
    return 0
  fi
  mkdir -p "$LAB_STATE"
  nohup "$here/../.venv-s3/bin/moto_server" -H "$LAB_GATEWAY" -p "$LAB_S3_PORT" \
    >"$LAB_STATE/s3.log" 2>&1 &
  echo $! >"$LAB_STATE/s3.pid"
  local _
  for _ in $(seq 1 30); do
    if s3_answers; then
      create_s3_bucket
      echo "lab-s3: started (http://$LAB_GATEWAY:$LAB_S3_PORT)"
      return 0
    fi
    sleep 0.5
  done
  echo "the lab S3 server did not start; see $LAB_STATE/s3.log" >&2
  return 1
}

# The bucket the lab inventory names (mutuapix_offsite_bucket); moto accepts any credentials.
create_s3_bucket() {
  "$here/../.venv-s3/bin/python" - "$LAB_GATEWAY" "$LAB_S3_PORT" <<'PY'
import sys, boto3
client = boto3.client("s3", endpoint_url=f"http://{sys.argv[1]}:{sys.argv[2]}", region_name="us-east-1",
                      aws_access_key_id="lab", aws_secret_access_key="lab-only-credentials")
client.create_bucket(Bucket="mutuapix-lab")
PY
}

stop_s3() {
  if [ -f "$LAB_STATE/s3.pid" ]; then
    kill "$(cat "$LAB_STATE/s3.pid")" 2>/dev/null || true
  fi
  rm -f "$LAB_STATE/s3.pid"
}

up() {
  "$here/image.sh"
  docker network inspect "$LAB_NETWORK" >/dev/null 2>&1 ||
    docker network create --subnet "$LAB_SUBNET" --gateway "$LAB_GATEWAY" "$LAB_NETWORK" >/dev/null
  local host
  for host in "${LAB_HOSTS[@]}"; do
    start_host "$host"
  done
  start_s3
}

down() {
  local host
  for host in "${LAB_HOSTS[@]}"; do
    docker rm -f "$(container_for "$host")" >/dev/null 2>&1 || true
  done
  docker network rm "$LAB_NETWORK" >/dev/null 2>&1 || true
  stop_s3
  echo "lab destroyed"
}

status() {
  local host
  for host in "${LAB_HOSTS[@]}"; do
    printf '%s: %s\n' "$host" "$(docker inspect -f '{{.State.Status}}' "$(container_for "$host")" 2>/dev/null || echo absent)"
  done
  printf 'lab-s3: %s\n' "$(s3_answers && echo "running on http://$LAB_GATEWAY:$LAB_S3_PORT" || echo absent)"
}

case "${1:-}" in
  up) lab_ensure_docker; up ;;
  down) lab_ensure_docker; down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
