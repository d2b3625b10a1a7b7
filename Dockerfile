# syntax=docker/dockerfile:1
#
# mailhook in a container. Build: docker build -t mailhook .
# Run (SQLite in a volume):  docker run -p 8787:8787 -v mailhook-data:/var/lib/mailhook mailhook
# Run (PostgreSQL):          docker run -p 8787:8787 -e DATABASE_URL=postgres://… mailhook
# Management commands run through the same entrypoint: docker run --rm … mailhook migrate
# See docs/deploying.md.

# Node 24: an LTS line supported until April 2028 (20 ended in April 2026, and fastify's cookie@2
# dependency declares node >= 22). Both stages use the same image, so the native SQLite module
# copied from the build stage matches the runtime's Node ABI and glibc.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
# better-sqlite3 downloads a prebuilt binary when one matches this Node, libc and architecture; these
# compile it from source when none does (a new Node major, an unusual architecture, no GitHub access).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies first, in their own layer, so a source change does not reinstall them.
# --ignore-scripts skips the package's own `prepare` (the build), which needs the sources copied below;
# `npm rebuild` then runs the dependencies' install scripts (better-sqlite3's binary).
RUN --mount=type=cache,target=/root/.npm \
  npm ci --no-audit --no-fund --ignore-scripts && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# Compiled once here; pruning removes TypeScript, the linters and the test tools, and keeps the
# production dependencies exactly as installed (better-sqlite3's binary is not built twice).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
  HOST=0.0.0.0 \
  PORT=8787 \
  MAILHOOK_DATA_DIR=/var/lib/mailhook
WORKDIR /app
# What the server reads at runtime: package.json (its version), bin/ and dist/ (the compiled code),
# the migrations and the dashboard, which are located from the package root rather than compiled, and
# the production dependencies; package-lock.json lets image scanners list those. Owned by root: the
# service user can read its code but not change it.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/store/migrations ./src/store/migrations
COPY --from=build /app/src/web ./src/web
# Made before VOLUME so that a new named volume starts out owned by the service user, mode 0700
# (mailhook warns about a data directory other users can read).
RUN mkdir -p /var/lib/mailhook && chown node:node /var/lib/mailhook && chmod 700 /var/lib/mailhook
VOLUME /var/lib/mailhook
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8787
# /healthz answers 200 while the process serves HTTP; /readyz (the store answers, the backlog is
# short) is the one for load balancers. The slim image has no curl: Node's fetch does the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/mailhook.js"]
CMD ["serve"]
