# ai-signal container image: `ai-signal run --http` as an unprivileged user, health-checked on
# /healthz. The app applies the database migrations itself at start (see docs/OPERATIONS.md).
#
#   docker build -t ai-signal .
#   docker run --env-file .env -p 3000:3000 ai-signal
#
# BASE_IMAGE is any Debian-like image with Python 3.11+ and the venv module (python3 -m venv).
# `make image-check` builds one from Debian's packages when no registry can be reached.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Where pip finds packages, for a private mirror or an offline wheel folder served over HTTP, e.g.
# --build-arg PIP_INDEX_URL=https://pypi.internal/simple, or PIP_NO_INDEX=1 with PIP_FIND_LINKS.
# They exist in this build stage only; the hashes in the lock are checked whatever the source.
ARG PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_NO_INDEX PIP_TRUSTED_HOST
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/ai-signal
# The dependencies come from the lock, every file checked against its hash; then the app itself.
COPY requirements.lock /src/
RUN /opt/ai-signal/bin/pip install --require-hashes -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY handlers /src/handlers
COPY models /src/models

RUN /opt/ai-signal/bin/pip install --no-deps /src \
    && /opt/ai-signal/bin/pip uninstall --yes pip \
    && find /opt/ai-signal -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ENV PATH=/opt/ai-signal/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/ai_signal.db
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home \
        --shell /usr/sbin/nologin ai-signal
COPY --from=build /opt/ai-signal /opt/ai-signal
USER ai-signal
WORKDIR /data
# SQLite (the default above) keeps its file here; with PostgreSQL nothing is written to disk.
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["ai-signal"]
CMD ["run", "--http"]
