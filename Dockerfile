# syntax=docker/dockerfile:1
# One image definition for every Womento service; SERVICE picks which one runs:
#   docker build --build-arg SERVICE=matching -t womento/matching .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY . .
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim
ARG SERVICE=intake
ENV SERVICE=${SERVICE} \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WOMENTO_HTTP_HOST=0.0.0.0 \
    WOMENTO_HTTP_PORT=8000
RUN groupadd --system --gid 10001 womento \
    && useradd --system --uid 10001 --gid womento --no-create-home --shell /usr/sbin/nologin womento
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000
LABEL org.opencontainers.image.title="womento-${SERVICE}"

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WOMENTO_HTTP_PORT', '8000'), timeout=4)"]

# exec keeps Python as PID 1 so it receives SIGTERM and shuts down cleanly.
CMD ["sh", "-c", "exec python -m services.${SERVICE}"]
