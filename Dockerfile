# Multi-stage build of the xray API.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Workspaces need every package.json before install; sources come along (they are small).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY apps ./apps
COPY libs ./libs
RUN npm ci --no-audit --no-fund && npm run build && npm run build:ui && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
CMD ["node", "dist/apps/api/src/main.js"]
