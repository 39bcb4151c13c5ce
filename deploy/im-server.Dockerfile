# The im-server image. deploy/charging-enabler.Dockerfile and deploy/im-server.Dockerfile share the build
# stage word for word (so the builder's cache serves both) and differ only in what the run stage copies and starts.
# Build context: the project root (see .dockerignore). Works with the legacy builder and BuildKit alike.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/cli/package.json apps/cli/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.image.json nest-cli.json ./
COPY apps apps
COPY libs libs
# the services, the CLI and the browser client only: tests and benchmarks are not in the build context
RUN npm run build:image && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY deploy/tariffs.yaml deploy/tariffs.yaml
USER node
EXPOSE 8080 5060/udp 5060/tcp 5066 2855 2856
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 CMD node -e "fetch('http://127.0.0.1:8080/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/apps/im-server/src/main.js"]
