#!/usr/bin/env bash
# Starts the built simulators and the production server (`npm start` runs exactly
# `node dist/main.js`; it is started directly here so SIGTERM reaches Node and not npm),
# asks for /health and one query that needs both upstreams, then stops the gateway with
# SIGTERM and expects a clean exit. Needs `npm run build` and `npm run build:sim` first.
set -euo pipefail
cd "$(dirname "$0")/.."

NPM_PORT=${SMOKE_NPM_PORT:-14010}
AXIS_PORT=${SMOKE_AXIS_PORT:-14020}
GW_PORT=${SMOKE_GATEWAY_PORT:-14000}
start_script=$(node -p "require('./package.json').scripts.start")
if [ "$start_script" != "node dist/main.js" ]; then
  echo "npm start runs '$start_script'; this smoke test starts node dist/main.js" >&2
  exit 1
fi
work=$(mktemp -d)
sim_pid=""
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 100); do
    if node -e "fetch('$1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

NPM_SIM_PORT=$NPM_PORT AXIS_SIM_PORT=$AXIS_PORT node dist-sim/main.js >"$work/sim.log" 2>&1 &
sim_pid=$!
wait_for "http://127.0.0.1:$NPM_PORT/__sim/health"
wait_for "http://127.0.0.1:$AXIS_PORT/__sim/health"

SMOKE_KEY=smoke-test-viewer-key-0123456789
PORT=$GW_PORT HOST=127.0.0.1 NODE_ENV=production GATEWAY_API_KEYS="smoke=viewer:$SMOKE_KEY" \
  NPM_BASE_URL="http://127.0.0.1:$NPM_PORT" NPM_USERNAME=admin NPM_PASSWORD=demo-npm-password \
  AXIS_BASE_URL="http://127.0.0.1:$AXIS_PORT" AXIS_API_TOKEN=demo-axis-rw-token \
  node dist/main.js >"$work/gateway.log" 2>&1 &
gw_pid=$!
wait_for "http://127.0.0.1:$GW_PORT/health"
if ! kill -0 "$gw_pid" 2>/dev/null; then
  echo "the gateway exited; something else answers on port $GW_PORT:" >&2
  cat "$work/gateway.log" >&2
  exit 1
fi

wait_for "http://127.0.0.1:$GW_PORT/ready"
unauthenticated=$(node -e "
fetch('http://127.0.0.1:$GW_PORT/graphql', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query: '{ azureStatus { state } }' }),
}).then((r) => process.stdout.write(String(r.status)), (e) => { console.error(e); process.exit(1); });
")
if [ "$unauthenticated" != "401" ]; then
  echo "a request without credentials got HTTP $unauthenticated, not 401" >&2
  exit 1
fi

answer=$(node -e "
fetch('http://127.0.0.1:$GW_PORT/graphql', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer $SMOKE_KEY' },
  body: JSON.stringify({ query: '{ azureStatus { state } users(pageSize: 1) { totalRecords } }' }),
}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e); process.exit(1); });
")
echo "query answered: $answer"
expected='{"data":{"azureStatus":{"state":"SYNC_SUCCEEDED"},"users":{"totalRecords":120}}}'
if [ "$answer" != "$expected" ]; then
  echo "unexpected answer; gateway log:" >&2
  cat "$work/gateway.log" >&2
  exit 1
fi

kill -TERM "$gw_pid"
status=0
wait "$gw_pid" || status=$?
gw_pid=""
if [ "$status" -ne 0 ]; then
  echo "gateway exited with $status after SIGTERM" >&2
  cat "$work/gateway.log" >&2
  exit 1
fi
echo "npm start: healthy, answered, and exited 0 on SIGTERM"
