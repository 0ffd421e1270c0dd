# dcrm validator node image. Build from the repository root:  docker build -t dcrm .
# See docs/operations.md ("Containers") for volumes, keys and the four-validator compose file.

# --- build: wheels that need a compiler (libp2p's dependencies) are built here, not in the final image.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libgmp-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/dcrm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY client ./client
COPY node ./node
COPY runtime ./runtime
COPY proto ./proto
RUN /opt/dcrm/bin/pip install ".[node]"

# --- run: the virtualenv, a non-root user, and the node's folders as volumes.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/opt/dcrm/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgmp10 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/dcrm dcrm \
    && mkdir -p /var/lib/dcrm /keys /etc/dcrm \
    && chown dcrm:dcrm /var/lib/dcrm /keys
COPY --from=build /opt/dcrm /opt/dcrm
COPY deploy/config.toml /etc/dcrm/config.toml
# data: the LevelDB database and port files; keys: validator.key (mode 0600, owned by uid 10001) and TLS files.
VOLUME ["/var/lib/dcrm", "/keys"]
USER dcrm
EXPOSE 50051 9615
# The node answers GetStatus once it serves; DCRM_API_PORT is the port it listens on (default 50051).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["sh", "-c", "dcrm status --endpoint 127.0.0.1:${DCRM_API_PORT:-50051} --timeout 3 > /dev/null"]
# SIGTERM (docker stop) stops the node gracefully: the block being written is finished first.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dcrm"]
CMD ["node", "start", "--config", "/etc/dcrm/config.toml"]
