# chatcore's service image: `chat serve` as a non-root user, configured by CHAT_* variables (docs/deploy.md).
#
#   docker build -t chatcore .            # or: podman build --format docker -t chatcore .
#   docker run -p 8000:8000 -e CHAT_JWT_SECRET=... chatcore
#
# BASE is any Debian-like image with python3 (3.11 or newer) and its venv module; builder and runtime must use
# the same one, because the venv copied between them points at the base's interpreter.
ARG BASE=python:3.12-slim-bookworm

FROM ${BASE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/chat
WORKDIR /src
# Only what the wheel is built from: a change to tests or docs does not rebuild this layer.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/chat/bin/pip install . \
    && /opt/chat/bin/python -m compileall -q /opt/chat/lib

FROM ${BASE} AS runtime
# A fixed numeric id, so orchestrators can check "not root" (runAsNonRoot) and volumes can be owned ahead.
RUN groupadd --gid 10001 chat \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/chat --create-home --shell /usr/sbin/nologin chat
COPY --from=builder /opt/chat /opt/chat
# The working folder holds what the defaults write (SQLite's chat.db, static/chat_files/): mount a volume there
# to keep them, or point CHAT_DATABASE_URL / CHAT_STORAGE_URL at PostgreSQL and S3.
WORKDIR /var/lib/chat
ENV PATH=/opt/chat/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8000
# Liveness only (the process answers); readiness is /ready, for the balancer. No curl in slim images.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["chat", "serve", "--host", "0.0.0.0", "--port", "8000"]
