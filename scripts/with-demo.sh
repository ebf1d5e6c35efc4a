#!/usr/bin/env bash
# Runs a command against a fresh `npm run demo`: starts the demo (simulators + gateway, one
# process) on free ports, waits until the gateway's GET /ready answers 200, runs the command
# with GATEWAY_URL (the GraphQL endpoint) and GATEWAY_ORIGIN set, and always stops the demo.
# Exits with the command's status.
#   scripts/with-demo.sh npm run example:typed-client
# DEMO_READY_TIMEOUT_S bounds the wait (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

timeout_s=${DEMO_READY_TIMEOUT_S:-60}
log=$(mktemp)
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

fail() {
  echo "with-demo: $1; demo output:" >&2
  cat "$log" >&2
  exit 1
}

# `node --import tsx` is what `npm run demo` (tsx scripts/demo.ts) runs, minus the npm and tsx
# wrapper processes, so the one pid below is the whole demo.
PORT=0 NPM_SIM_PORT=0 AXIS_SIM_PORT=0 HOST=127.0.0.1 LOG_LEVEL=${LOG_LEVEL:-warn} \
  node --import tsx scripts/demo.ts >"$log" 2>&1 &
demo_pid=$!

deadline=$((SECONDS + timeout_s))
origin=""
while [ -z "$origin" ]; do
  origin=$(sed -n 's|^ *GraphiQL *\(http://[^ ]*\)/graphql$|\1|p' "$log" | head -n 1)
  [ -n "$origin" ] && break
  kill -0 "$demo_pid" 2>/dev/null || fail "the demo exited before printing its URL"
  [ "$SECONDS" -lt "$deadline" ] || fail "the demo printed no URL within ${timeout_s}s"
  sleep 0.1
done

until node -e "fetch('$origin/ready').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"; do
  kill -0 "$demo_pid" 2>/dev/null || fail "the demo exited before $origin/ready answered 200"
  [ "$SECONDS" -lt "$deadline" ] || fail "$origin/ready did not answer 200 within ${timeout_s}s"
  sleep 0.1
done
echo "with-demo: the demo is ready at $origin" >&2

status=0
GATEWAY_ORIGIN=$origin GATEWAY_URL="$origin/graphql" "$@" || status=$?
exit "$status"
