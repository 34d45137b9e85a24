# syntax=docker/dockerfile:1
# The HMS application image: one image, every service (`hms worker|api|mllp|console|migrate ...`).
#
# Reproducible: the base is pinned by tag (pin it by digest too in a release pipeline:
# python:3.11-slim-bookworm@sha256:...), SOURCE_DATE_EPOCH fixes timestamps, no bytecode is
# compiled at install time and pip keeps no cache. Build with
#   docker buildx build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     --output type=image,name=hms:$(git rev-parse --short HEAD),rewrite-timestamp=true .
# (BuildKit clamps file timestamps in the layers to SOURCE_DATE_EPOCH with rewrite-timestamp.)

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SOURCE_DATE_EPOCH=0
ENV SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_COMPILE=1
RUN python -m venv /opt/hms
ENV PATH=/opt/hms/bin:$PATH
WORKDIR /src
# Only what the package needs (see .dockerignore): no tests, no local state, no virtualenv.
COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY policies ./policies
COPY ledger ./ledger
COPY ml ./ml
COPY console ./console
COPY deploy ./deploy
RUN pip install --no-cache-dir --no-compile . \
    && find /opt/hms -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
ARG SOURCE_DATE_EPOCH=0
LABEL org.opencontainers.image.title="hms" \
      org.opencontainers.image.description="Hospital Management System on durable Temporal workflows" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/hms/bin:$PATH \
    HMS_HOME=/var/lib/hms \
    HMS_HOST=0.0.0.0
# A fixed, unprivileged uid/gid so volume ownership and Kubernetes runAsUser agree across builds.
RUN groupadd --system --gid 10001 hms \
    && useradd --system --uid 10001 --gid hms --home-dir /var/lib/hms --no-create-home --shell /usr/sbin/nologin hms \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/hms
COPY --from=build /opt/hms /opt/hms
USER 10001:10001
WORKDIR /var/lib/hms
# API 8443, MLLP 2575, console 8501.
EXPOSE 8443 2575 8501
ENTRYPOINT ["hms"]
CMD ["--help"]
