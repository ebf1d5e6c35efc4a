# syntax=docker/dockerfile:1
# Two images from one file: the gateway (the last stage, so `docker build .` gives it) and the
# upstream simulators (`--target simulators`, used by docker-compose.yml). The gateway's stages
# never copy simulators/, so no simulator code reaches dist/ or the gateway image
# (scripts/smoke-start.sh checks both).

# Every dependency, for the compilers; each build stage prunes its own copy afterwards.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Build: compile the gateway (src/ only), then keep only the production dependencies.
FROM deps AS build
COPY tsconfig.json tsconfig.build.json schema.graphql ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Build the simulators with their own tsconfig into dist-sim/.
FROM deps AS simulators-build
COPY tsconfig.json ./
COPY simulators ./simulators
RUN npm run build:sim && npm prune --omit=dev

# The upstream simulators, for docker-compose and local stacks only; never deployed.
FROM node:24-bookworm-slim AS simulators
ENV SIM_HOST=0.0.0.0
WORKDIR /app
COPY --from=simulators-build --chown=node:node /app/node_modules ./node_modules
COPY --from=simulators-build --chown=node:node /app/dist-sim ./dist-sim
COPY --chown=node:node package.json ./
USER node
EXPOSE 4010 4020
CMD ["node", "dist-sim/main.js"]

# The gateway. Run: no compiler, no dev dependencies, no simulators, not root. Keep this stage last.
FROM node:24-bookworm-slim AS gateway
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json schema.graphql persisted-operations.json ./
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
