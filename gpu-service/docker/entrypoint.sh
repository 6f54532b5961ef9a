#!/bin/sh
# Entrypoint of the GPU service image (gpu-service/Dockerfile, gpu-service/Dockerfile.cpu).
#
# Checks the environment before Node starts, so a misconfigured container stops at once with a
# message that names the variable, then replaces itself with Node (`exec`): Node takes over this
# process's PID and receives SIGTERM/SIGINT directly from tini (the image's PID 1, which forwards
# signals and reaps zombies), so the service's own handler in src/main.ts closes the server and the
# pipeline cleanly. Without `exec`, sh would sit between tini and Node and the signal would stop at sh.
#
# Exit codes: 64 (EX_USAGE) GPU_SERVICE_SECRET missing or too short; 73 (EX_CANTCREAT)
# MODEL_CACHE_DIR not a writable folder; 127 node cannot be run. Anything else comes from Node.
#
# Overridable for tests and for runs outside the image:
#   SNOOPI_NODE  the node binary        (default: node, from PATH)
#   SNOOPI_APP   the service's entry    (default: /app/gpu-service/src/main.ts)
# Arguments are passed to the service unchanged.
set -eu

# Keep in step with MIN_SECRET_LENGTH in gpu-service/src/auth/request-signature.ts (a test checks).
min_secret_length=32

log() {
  printf 'entrypoint: %s\n' "$*" >&2
}

node_bin=${SNOOPI_NODE:-node}
app=${SNOOPI_APP:-/app/gpu-service/src/main.ts}

if [ -z "${GPU_SERVICE_SECRET:-}" ]; then
  log "GPU_SERVICE_SECRET is required: the shared HMAC secret with the edge, at least ${min_secret_length} characters (e.g. openssl rand -hex 32)"
  exit 64
fi
if [ "${#GPU_SERVICE_SECRET}" -lt "${min_secret_length}" ]; then
  log "GPU_SERVICE_SECRET must be at least ${min_secret_length} characters (it has ${#GPU_SERVICE_SECRET})"
  exit 64
fi

if [ -z "${MODEL_DIR:-}" ] && [ -z "${MODEL_S3_URI:-}" ]; then
  log "warning: neither MODEL_DIR nor MODEL_S3_URI is set: serving the built-in default model (gpu-service/assets/default-bundle, a one-step PG-SB student trained on 32x32 pictures of coloured shapes, not a general text-to-image model)"
fi

if [ -n "${MODEL_CACHE_DIR:-}" ]; then
  mkdir -p "${MODEL_CACHE_DIR}" 2>/dev/null || true
  if [ ! -d "${MODEL_CACHE_DIR}" ] || [ ! -w "${MODEL_CACHE_DIR}" ]; then
    uid=$(id -u)
    log "MODEL_CACHE_DIR ${MODEL_CACHE_DIR} is not a folder that uid ${uid} can write: mount a volume owned by that user"
    exit 73
  fi
fi

if ! node_version=$("${node_bin}" --version 2>&1); then
  log "cannot run node (${node_bin}): ${node_version}"
  exit 127
fi
# Where /metrics will listen (the service's own rule, src/config/service-config.ts), for the log line.
port=${PORT:-8788}
case "${METRICS_PORT:-}:${port}" in
  :0) metrics_port=0 ;;
  :*[!0-9]*) metrics_port="PORT+1" ;;
  :*) metrics_port=$((port + 1)) ;;
  *) metrics_port=${METRICS_PORT} ;;
esac
log "starting the GPU service: node ${node_version}, device ${DEVICE:-cpu}, ${HOST:-127.0.0.1}:${port}, /metrics on port ${metrics_port}"

exec "${node_bin}" "${app}" "$@"
