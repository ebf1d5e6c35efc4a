#!/usr/bin/env bash
# Checks that no simulator code ships (none in dist/, none in the Dockerfile's gateway stage or
# the stages it copies from), then starts the built simulators and the production server
# (`npm start` runs exactly `node dist/main.js`; it is started directly here so SIGTERM reaches
# Node and not npm), asks for /health and one query that needs both upstreams, then stops the
# gateway with SIGTERM and expects a clean exit. Needs `npm run build` and `npm run build:sim` first.
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

# The simulators are a separate program (simulators/, built into dist-sim/): test doubles that
# must never be deployed. A file name or a string only they contain, anywhere in dist/, fails.
if [ ! -f dist/main.js ]; then
  echo "dist/main.js is missing: run npm run build first" >&2
  exit 1
fi
leaked=$(
  find dist -ipath '*simulator*' -o -ipath '*-sim.*'
  grep -rlE 'createNpmSimulator|createAxisSimulator|/__sim/' dist || true # 1 = no match
)
if [ -n "$leaked" ]; then
  echo "dist/ holds simulator code (a stale build? rm -rf dist && npm run build):" >&2
  echo "$leaked" | sort -u >&2
  exit 1
fi
echo "dist/ holds no simulator code"

# The Dockerfile's last stage is what `docker build .` gives: the gateway image. Neither it nor
# any stage it is built FROM or copies --from may name the simulators (source or dist-sim/).
node --input-type=module - <<'EOF'
import { readFileSync } from 'node:fs';
const stages = [];
for (const line of readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ').split('\n')) {
  const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
  if (from) stages.push({ base: from[1], name: from[2] ?? String(stages.length), lines: [] });
  else if (stages.length > 0 && line.trim() !== '' && !line.trim().startsWith('#')) stages.at(-1).lines.push(line);
}
const byRef = new Map(stages.flatMap((stage, i) => [[stage.name, stage], [String(i), stage]]));
const seen = new Set();
const problems = [];
const visit = (stage) => {
  if (seen.has(stage)) return;
  seen.add(stage);
  for (const line of [stage.base, ...stage.lines]) {
    if (/simulator|dist-sim/i.test(line)) problems.push(`stage ${stage.name}: ${line.trim()}`);
  }
  const copiedFrom = stage.lines.flatMap((line) => [...line.matchAll(/--from=(\S+)/g)].map((m) => m[1]));
  for (const ref of [stage.base, ...copiedFrom]) if (byRef.has(ref)) visit(byRef.get(ref));
};
const last = stages.at(-1);
if (last === undefined) problems.push('the Dockerfile has no FROM');
else visit(last);
if (problems.length > 0) {
  console.error(`the Dockerfile's last (gateway) stage reaches simulator code:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`Dockerfile: the gateway stage (${last.name}) and the ${seen.size - 1} stage(s) it builds on name no simulator`);
EOF

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
