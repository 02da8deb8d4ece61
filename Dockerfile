# Multi-stage build of the xray API, on the current Node LTS (the app needs Node >= 20.19).
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first, from the manifests alone: this layer (the slow `npm ci`) is reused as long
# as no package.json or the lock file changes, whatever source files are edited. npm workspaces
# need every workspace's package.json before installing (add a new workspace's here).
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/examples/package.json apps/examples/
COPY libs/sdk/package.json libs/sdk/
RUN npm ci --no-audit --no-fund
# Then the sources, the build, and the production dependencies only.
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build && npm run build:ui && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=3000 XRAY_DATA_DIR=/app/.xray/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's `node` user (uid 1000) runs the API and owns the embedded database's folder
# (used when DATABASE_URL is unset); mount a volume there to keep its data.
RUN mkdir -p /app/.xray/data && chown -R node:node /app/.xray
VOLUME ["/app/.xray"]
USER node
EXPOSE 3000
# Ready = the database answers and every migration is applied (GET /health/ready answers 200).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) starts the graceful shutdown; it ends within XRAY_SHUTDOWN_TIMEOUT (25s).
STOPSIGNAL SIGTERM
CMD ["node", "dist/apps/api/src/main.js"]
