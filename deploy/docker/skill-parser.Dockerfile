# syntax=docker/dockerfile:1.7
# The skill-parser: validates skills, versions them, compiles rubrics (no model, no GPU).
# Build from the repository root:  docker build -f deploy/docker/skill-parser.Dockerfile -t skill-adapter/skill-parser .
# Multi-arch (amd64 and arm64, e.g. a DGX Spark): the base image is; docker buildx --platform works.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
RUN /opt/venv/bin/pip install .

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /var/lib/skill-adapter --create-home app
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /opt/skill-adapter/entrypoint.sh
COPY deploy/docker/healthcheck.py /opt/skill-adapter/healthcheck.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SKILL_ADAPTER_STATE_DIR=/var/lib/skill-adapter \
    SKILL_ADAPTER_EMBEDDED_NATS=false \
    SKILL_ADAPTER_LOG_FORMAT=json \
    SKILL_ADAPTER_NATS_USER=skill-parser
USER 10001:10001
WORKDIR /var/lib/skill-adapter
# Healthy while its NATS identity works and its consumers are being pulled from.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 \
    CMD ["python", "/opt/skill-adapter/healthcheck.py", "skill_parser"]
ENTRYPOINT ["/opt/skill-adapter/entrypoint.sh"]
CMD ["python", "-m", "skill_adapter.skill_parser"]
