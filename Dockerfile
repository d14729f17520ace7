# syntax=docker/dockerfile:1
# The service image: the API by default; the same image runs the migration step
# (`python -m service.migrate`) and the worker (`python -m service.worker run-due [--once]`) by
# overriding the command. Built by infra/components/image.py (BuildKit) and `docker compose build`.
#
# Base: same Python minor as the project (requires-python >= 3.11, CI runs 3.11), pinned by digest
# to the tag's multi-platform index (amd64 and arm64; Python 3.11.17), so every build starts from
# the same bytes. The digest comes from published build files that pin this tag (it was not pulled
# here); Renovate (renovate.json) keeps it current: each new digest of the tag, i.e. its
# Debian/Python patch releases, arrives as a pull request. The tag stays for readers and Renovate.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2333bd330d12de02514770b3585cad313644316047cdee24a7acfdece6de6efb

# ---- builder: wheels for the project and its runtime dependencies ([project.dependencies] only)
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src

# Dependencies first, from the runtime lock alone (`make lock` writes it from pyproject.toml, no
# extras): a code or README change keeps this layer cached. --require-hashes: every wheel must be a
# version pinned there and match one of its hashes, transitive dependencies included.
# --only-binary: nothing is compiled (this slim image has no compiler either); a dependency with no
# wheel for the target platform (amd64 or arm64) fails the build loudly instead.
COPY requirements.runtime.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels --only-binary=:all: --require-hashes \
        --requirement requirements.runtime.lock

# Then the project itself (pure Python, built by hatchling; --no-deps: its dependencies are the
# locked wheels above): only this layer changes with the code. LICENSE: the wheel carries it
# (pyproject's license-files), and so does the image.
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels --no-deps .

# ---- runtime: no compilers, no build tools, no source tree; a virtualenv installed from /wheels
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    UVICORN_TIMEOUT_KEEP_ALIVE=75

# The wheels and the lock are bind-mounted from the builder, not copied: they never become an
# image layer. The dependencies are installed from the lock again, hashes checked, then the project
# with --no-deps; `pip check` proves the set is complete. pip byte-compiles at install time, so the
# read-only, non-root runtime never needs to write .pyc.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=bind,from=builder,source=/src/requirements.runtime.lock,target=/tmp/requirements.runtime.lock \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels \
        --require-hashes --requirement /tmp/requirements.runtime.lock \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps /wheels/service-*.whl \
    && /opt/venv/bin/pip check \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && install --directory --owner=10001 --group=10001 --mode=0755 /app

# The RDS CA bundle, pinned by checksum: the task verifies PostgreSQL's certificate against it and
# its endpoint name (DB_SSL=verify-full, DB_SSL_ROOT_CERT; infra/components/service.py). The build
# fails if AWS republishes the bundle: check the new one (README "Verified TLS to PostgreSQL") and
# update the checksum. Root-owned and read-only.
ADD --checksum=sha256:e5bb2084ccf45087bda1c9bffdea0eb15ee67f0b91646106e466714f9de3c7e3 --chmod=0444 \
    https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/rds/global-bundle.pem

# /app is writable only so that `docker run` without DATABASE_URL can create its SQLite file;
# on AWS the database is PostgreSQL and the root filesystem may be read-only.
WORKDIR /app
USER 10001:10001
EXPOSE 8000

# No HEALTHCHECK: ECS ignores an image's HEALTHCHECK (only a task-definition healthCheck counts;
# the ALB probes GET /health), and this image also runs the migrate and worker commands, which
# serve no HTTP and would be reported unhealthy. compose.yaml declares the API's healthcheck.
#
# Exec form: uvicorn receives SIGTERM itself, no shell in between. One process per container (ECS
# scales tasks). Two settings come from the environment, because the infrastructure owns them and a
# command-line flag would silently override the task definition's value:
# - FORWARDED_ALLOW_IPS: uvicorn reads it when --forwarded-allow-ips is absent (the task
#   definition sets the VPC CIDR: only the ALB may set X-Forwarded-For);
# - UVICORN_TIMEOUT_KEEP_ALIVE (uvicorn's CLI reads UVICORN_* options): 75 s here, the ALB idle
#   timeout + 15 s on AWS; it must exceed the ALB's idle timeout or the ALB sees sporadic 502s.
# Graceful shutdown 20 s < ECS stopTimeout 30 s: in-flight requests finish before SIGKILL.
# The app writes its own access log (service/observability.py). No `server: uvicorn` header: it
# tells an attacker what to look up (docs/security.md).
# --http: uvicorn's httptools protocol with a bounded request head (64 KiB, else 431) and head
# read time (10 s, else 408), and the idle timer armed on connect: service/server.py, finding 5
# in docs/security.md.
CMD ["uvicorn", "service.main:app", \
     "--host", "0.0.0.0", "--port", "8000", \
     "--http", "service.server:BoundedHttpToolsProtocol", \
     "--proxy-headers", \
     "--timeout-graceful-shutdown", "20", \
     "--no-access-log", \
     "--no-server-header"]
