# fsagent container image. Build from the repository root (the tag is package.json's version, as
# in docker-compose.yml and deploy/kubernetes/deployment.yaml):
#   docker build -t fsagent:0.1.0 .
#
# Configuration: environment variables alone (FSAGENT_*, see docs/configuration.md), and/or a
# config.yaml mounted at /etc/fsagent/config.yaml. The agent runs in /etc/fsagent and reads
# ./config.yaml when it exists, so mounting the file is all it takes; without it, env alone
# configures it.

ARG NODE_VERSION=20

# --- build: all dependencies, TypeScript compiled to dist/ -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and dist/ only ---------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
# The mount point for config.yaml, and the working directory, so ./config.yaml is found there.
RUN mkdir -p /etc/fsagent
WORKDIR /etc/fsagent

# The image's "node" user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# http.port's default; set FSAGENT_HTTP_PORT (or http.port) to move it, the healthcheck follows.
EXPOSE 8080

# The agent stops cleanly on SIGTERM (says exit to FreeSWITCH, flushes the last metrics) and
# exits within 10 s, inside Docker's default stop timeout.
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]

ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["run"]
