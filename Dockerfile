# syntax=docker/dockerfile:1
#
# One image for every CAAS service. docker-compose.yml starts each service from it with
#   command: ["node", "services/<svc>/dist/main.js"]
# and configures it through CAAS_* environment variables (CAAS_MODE=cluster).
# Without a command the image runs the embedded platform (all services in one process, SQLite
# under /app/data); it binds 127.0.0.1 unless told otherwise:
#   docker run -e CAAS_HOST=0.0.0.0 -p 3000:3000 -v caas-data:/app/data caas:local

# Node 24, the active LTS line (Node 20 reached its end of life in April 2026).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- manifests: only the package manifests, so `npm ci` stays cached across source edits ---
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /out \
 && cp package.json package-lock.json /out/ \
 && find gen services sdks -maxdepth 2 -name package.json -exec cp --parents {} /out/ \;

# --- build: install, generate (if needed), compile, prune dev dependencies ---
FROM ${NODE_IMAGE} AS build
# better-sqlite3 builds from source with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
# Generated protobuf code normally comes with the sources; regenerate it when it does not
# (buf ships its binary in the @bufbuild/buf npm package, so this needs no network).
RUN if [ ! -d gen/es ]; then npm run generate; fi \
 && npm run build \
 && npm prune --omit=dev
# Stage exactly what runs: manifests, production node_modules (workspace links included)
# and the compiled dist/ of each workspace. Sources and build info stay behind.
RUN mkdir -p /out \
 && cp -a package.json package-lock.json node_modules /out/ \
 && for d in gen services/* sdks/ts; do \
      if [ -f "$d/package.json" ]; then \
        mkdir -p "/out/$d" && cp -a "$d/package.json" "/out/$d/"; \
        if [ -d "$d/dist" ]; then cp -a "$d/dist" "/out/$d/"; fi; \
        if [ -d "$d/node_modules" ]; then cp -a "$d/node_modules" "/out/$d/"; fi; \
      fi; \
    done \
 && find /out -name '*.tsbuildinfo' -delete

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
# A 64 MiB young-generation semi-space keeps most short-lived request objects out of the old
# generation, so major GC pauses stay out of the message latency tail (ADR 0029).
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-semi-space-size=64"
WORKDIR /app
# Code is owned by root and read-only for the service user; only ./data is writable
# (used by the embedded mode; cluster mode keeps its state in the backing servers).
COPY --from=build /out/ ./
RUN mkdir -p /app/data && chown node:node /app/data
# The `node` user (uid 1000) ships with the official Node images.
USER node
EXPOSE 3000 3002 3004 3005 3006 3007 3008 3009
# Health checks live in docker-compose.yml (each service has its own port).
CMD ["node", "services/platform/dist/main.js"]
