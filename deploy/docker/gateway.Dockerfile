# syntax=docker/dockerfile:1.7
# The gateway: OpenAI-compatible API, skills/jobs/evaluations APIs. Without torch by default (it
# serves through vLLM or another upstream); --build-arg EXTRAS=gateway,local adds the in-process
# transformers engine (CPU torch unless TORCH_INDEX points at a CUDA wheel index).
# Build from the repository root:  docker build -f deploy/docker/gateway.Dockerfile -t skill-adapter/gateway .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=gateway
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
RUN case ",${EXTRAS}," in *,local,*) /opt/venv/bin/pip install --index-url "${TORCH_INDEX}" "torch>=2.4,<2.14" ;; esac
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
RUN /opt/venv/bin/pip install ".[${EXTRAS}]"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /var/lib/skill-adapter --create-home app
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /opt/skill-adapter/entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SKILL_ADAPTER_STATE_DIR=/var/lib/skill-adapter \
    SKILL_ADAPTER_EMBEDDED_NATS=false \
    SKILL_ADAPTER_LOG_FORMAT=json \
    SKILL_ADAPTER_NATS_USER=gateway \
    SKILL_ADAPTER_HOST=0.0.0.0 \
    SKILL_ADAPTER_PORT=8000
USER 10001:10001
WORKDIR /var/lib/skill-adapter
EXPOSE 8000
# /health answers 503 when NATS or the database is unreachable.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["/opt/skill-adapter/entrypoint.sh"]
CMD ["python", "-m", "skill_adapter.gateway"]
