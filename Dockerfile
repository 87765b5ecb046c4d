# fsgate: sandboxed file operations over gRPC.
#   docker build -t fsgate .
#   docker run --rm -v "$PWD/workspace:/workspace" -v fsgate-run:/run/fsgate fsgate
# Stage 1 builds a virtualenv holding fsgate[server] (the client and the server's
# dependencies); stage 2 copies it into a slim image with bubblewrap and nothing to build
# with. tests/deploy/test_dockerfile.py lints this file with hadolint and runs its install
# and entrypoint steps on the test machine.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY client/ client/
COPY service/ service/
COPY deploy/docker/install.sh deploy/docker/install.sh
RUN sh deploy/docker/install.sh /opt/fsgate

FROM python:3.11-slim-bookworm
# The Debian release is pinned by the base tag; its security updates replace package
# versions in place, so pinning one would break the build on the next update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 fsgate \
    && useradd --system --uid 10001 --gid fsgate --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin fsgate \
    && install -d -o fsgate -g fsgate -m 0770 /workspace /run/fsgate
COPY --from=build /opt/fsgate /opt/fsgate
# FSGATE_TARGET is what `fsgate health` (the HEALTHCHECK) probes; change it together with
# --listen. FSGATE_LOG_FORMAT: one JSON object per line for the log collector.
ENV PATH=/opt/fsgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FSGATE_LOG_FORMAT=json \
    FSGATE_TARGET=unix:/run/fsgate/fsgate.sock
USER 10001:10001
WORKDIR /workspace
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["fsgate", "health", "--timeout", "4"]
# A Unix socket by default: a non-loopback TCP address is refused without authentication
# or TLS. Over TCP: serve --root /workspace --listen 0.0.0.0:50051
#   --auth-token-file /run/secrets/fsgate-token, with FSGATE_TARGET=127.0.0.1:50051.
ENTRYPOINT ["fsgate"]
CMD ["serve", "--root", "/workspace", "--listen", "unix:/run/fsgate/fsgate.sock"]
