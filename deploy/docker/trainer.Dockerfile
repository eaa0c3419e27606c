# syntax=docker/dockerfile:1.7
# The trainer: LoRA/QLoRA SFT and GRPO (torch, transformers, TRL, PEFT, bitsandbytes) on one GPU.
# The CUDA base is multi-arch: linux/arm64 (DGX Spark, GB10, CUDA 13) and linux/amd64. The torch
# wheels come from PyTorch's CUDA 13.0 index, which has both architectures.
# Build from the repository root:
#   docker buildx build --platform linux/arm64,linux/amd64 -f deploy/docker/trainer.Dockerfile -t skill-adapter/trainer .
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu130
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --index-url "${TORCH_INDEX}" "torch>=2.9,<2.14"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
RUN /opt/venv/bin/pip install ".[trainer]"

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /var/lib/skill-adapter --create-home app
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /opt/skill-adapter/entrypoint.sh
COPY deploy/docker/healthcheck.py /opt/skill-adapter/healthcheck.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SKILL_ADAPTER_STATE_DIR=/var/lib/skill-adapter \
    SKILL_ADAPTER_EMBEDDED_NATS=false \
    SKILL_ADAPTER_LOG_FORMAT=json \
    SKILL_ADAPTER_NATS_USER=trainer \
    SKILL_ADAPTER_TRAINER_DEVICE=cuda:0 \
    HF_HUB_OFFLINE=1
USER 10001:10001
WORKDIR /var/lib/skill-adapter
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD ["python", "/opt/skill-adapter/healthcheck.py", "trainer"]
ENTRYPOINT ["/opt/skill-adapter/entrypoint.sh"]
CMD ["python", "-m", "skill_adapter.trainer"]
