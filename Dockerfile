# One image for every service; the container's command picks which one runs.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# Node as PID 1 ignores a SIGTERM it has no handler for yet: a pod stopped while it starts (auth
# replaying the key event stream) would wait out its whole grace period. tini forwards the signal.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/tools/register-paths.js /app/tools/resolve-keyplane.js ./tools/
COPY --from=build /app/apps/gateway/config ./apps/gateway/config
COPY --from=build /app/apps/gateway/public ./apps/gateway/public
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "./tools/register-paths.js"]
CMD ["dist/apps/gateway/src/main.js"]
