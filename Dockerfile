# syntax=docker/dockerfile:1
# Crypto-Replicator container image: `crypto-replicator run`, configured from the environment.
#
#   docker build -t crypto-replicator .
#   docker run -v ./keys:/keys:ro -v cr-state:/var/lib/crypto-replicator \
#     -e DATABASE_URL=postgresql://replicator@db:5432/app -e CLOUD_API_URL=https://vault.example \
#     -e CLOUD_API_TOKEN=... crypto-replicator
#
# See docs/OPERATIONS.md ("Container") for every variable and the compose file for a trial.

# --- build: all dependencies, compile TypeScript to dist/ ---------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# NOTE: scripts are skipped here because `prepare` (the build) needs the sources copied below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies only, non-root ---------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    STATE_DIR=/var/lib/crypto-replicator \
    RSA_PUBLIC_KEY_PATH=/keys/cloud.pub \
    METRICS_PORT=9464
WORKDIR /app

# Production dependencies from the lockfile. No install scripts: the only packages with one
# ship the embedded PostgreSQL used by `demo`, which the image does not run.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY --from=build /src/dist ./dist
COPY docker/entrypoint.sh docker/healthcheck.mjs ./docker/
COPY docs ./docs

# An unprivileged user owns only the state folder; keys are mounted read-only at /keys.
RUN groupadd --system --gid 10001 replicator \
 && useradd --system --uid 10001 --gid replicator --home-dir /nonexistent --shell /usr/sbin/nologin replicator \
 && mkdir -p /var/lib/crypto-replicator /keys \
 && chown replicator:replicator /var/lib/crypto-replicator \
 && chmod 0700 /var/lib/crypto-replicator \
 && chmod 0755 /app/docker/entrypoint.sh
VOLUME ["/var/lib/crypto-replicator"]
USER 10001:10001

EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/docker/healthcheck.mjs"]

# The replicator handles SIGTERM itself: it stores what is sealed, acknowledges, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["run"]
