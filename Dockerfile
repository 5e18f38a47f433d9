# syntax=docker/dockerfile:1.7
# One Dockerfile, one small image per service (the postmodern-mono habit: each image installs
# only its own workspace package and its dependencies, from uv.lock).
#
#   docker build --build-arg PACKAGE=fuelhub-api           -t fuelhub-api .
#   docker build --build-arg PACKAGE=fuelhub-store         -t fuelhub-store .   # + fuelhub-store-admin
#   docker build --build-arg PACKAGE=fuelhub-auth          -t fuelhub-auth .
#   docker build --build-arg PACKAGE=fuelhub-ingest-source1 -t fuelhub-ingest-source1 .
#   docker build --build-arg PACKAGE=fuelhub-ingest-source2 -t fuelhub-ingest-source2 .
#   docker build --build-arg PACKAGE=fuelhub-demo-sources  -t fuelhub-demo-sources .
#   docker build --target gateway                          -t fuelhub-gateway .
#
# The image's entrypoint is the package's own command (same name as the package); arguments
# are its subcommands (`fuelhub-store migrate`, `fuelhub-auth serve`, ...).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---- build: resolve from the lockfile into /app/.venv (never into the final image's layers) --
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
ARG PACKAGE
RUN test -n "${PACKAGE}" || (echo "build with --build-arg PACKAGE=<workspace package>" >&2; exit 1)
WORKDIR /src
# Dependencies first (cached until uv.lock or a pyproject changes), then the workspace itself.
COPY uv.lock pyproject.toml ./
COPY libs/common/pyproject.toml libs/common/
COPY services/ingest-source1/pyproject.toml services/ingest-source1/
COPY services/ingest-source2/pyproject.toml services/ingest-source2/
COPY services/store/pyproject.toml services/store/
COPY services/auth/pyproject.toml services/auth/
COPY services/api/pyproject.toml services/api/
COPY deploy/demo-sources/pyproject.toml deploy/demo-sources/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "${PACKAGE}"
COPY libs/ libs/
COPY services/ services/
COPY deploy/demo-sources/ deploy/demo-sources/
# --no-editable: the packages are copied into the venv, so the final image needs no sources.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"

# ---- gateway: nginx, configured by deploy/gateway/gateway.py (stdlib only) ------------------
FROM ${PYTHON_IMAGE} AS gateway
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fuelhub
COPY deploy/gateway/ /app/deploy/gateway/
WORKDIR /app
ENV GATEWAY_LISTEN=0.0.0.0:8000 \
    GATEWAY_DIR=/tmp/gateway \
    PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8000
ENTRYPOINT ["python", "/app/deploy/gateway/gateway.py"]

# ---- service: the runtime image (no uv, no compiler, no sources) -----------------------------
FROM ${PYTHON_IMAGE} AS service
ARG PACKAGE
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fuelhub \
    # Named volumes start as copies of these, owned by the service user (keys private).
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/fuelhub/auth-keys \
    && install -d -o 10001 -g 10001 -m 0755 /var/lib/fuelhub/media
COPY --from=build /app/.venv /app/.venv
RUN ln -s "/app/.venv/bin/${PACKAGE}" /usr/local/bin/fuelhub-service \
    && test -x /usr/local/bin/fuelhub-service
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    LOG_FORMAT=json \
    AUTH_KEYS_DIR=/var/lib/fuelhub/auth-keys
WORKDIR /app
USER 10001
ENTRYPOINT ["fuelhub-service"]
