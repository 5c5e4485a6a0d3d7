#!/bin/sh
# Container entry point: runs `crypto-replicator run` configured from the environment (the
# seed's DATABASE_URL, CLOUD_API_URL, RSA_PUBLIC_KEY_PATH, LISTEN_CHANNEL, DEBUG and the
# replicator's own variables, see docs/OPERATIONS.md). Arguments replace the command, e.g.
# `docker run crypto-replicator verify --store https://vault.example`; arguments that start
# with a dash are passed to `run`.
set -eu

APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

# Defaults of the image; every one can be overridden with -e.
: "${STATE_DIR:=/var/lib/crypto-replicator}"
: "${METRICS_PORT:=9464}"
export STATE_DIR METRICS_PORT

if [ "$#" -eq 0 ]; then
  set -- run
fi
case "$1" in
  -*) set -- run "$@" ;;
esac

# exec: the CLI becomes the process that receives SIGTERM from `docker stop`. For run (and the
# other long-running commands) it starts the replicator with a bounded heap and passes signals
# on (src/cli/bounded-heap.ts); CRYPTO_REPLICATOR_MAX_HEAP_MB or NODE_OPTIONS change the bound.
exec node "$APP_DIR/dist/cli/main.js" "$@"
