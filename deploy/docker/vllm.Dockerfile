# syntax=docker/dockerfile:1.7
# vLLM serving the base model with LoRA adapters loaded at run time by the gateway
# (POST /v1/load_lora_adapter) or, on another replica, resolved on first use from the shared
# adapters folder (the lora_filesystem_resolver plugin).
# x86 GPUs: the default base. DGX Spark (arm64, GB10, CUDA 13): --build-arg VLLM_IMAGE=nvcr.io/nvidia/vllm:25.10-py3
# Build from the repository root:  docker build -f deploy/docker/vllm.Dockerfile -t skill-adapter/vllm .
ARG VLLM_IMAGE=vllm/vllm-openai:v0.11.0

# One stage: nothing is built, the image only adds a non-root user and the serving settings.
# Structured outputs use llguidance (the guidance backend), as the gateway's local engine does:
# the data generator's grammars (several full-match regexes at once, "&" and "~") need it, and
# vLLM's default "auto" fixes one backend for the engine on its first structured request.
FROM ${VLLM_IMAGE}
RUN groupadd --system --gid 10001 vllm \
    && useradd --system --uid 10001 --gid vllm --home-dir /home/vllm --create-home vllm \
    && mkdir -p /adapters /models && chown vllm:vllm /adapters /models
ENV VLLM_ALLOW_RUNTIME_LORA_UPDATING=True \
    VLLM_PLUGINS=lora_filesystem_resolver \
    VLLM_LORA_RESOLVER_CACHE_DIR=/adapters \
    HF_HOME=/models \
    HF_HUB_OFFLINE=1 \
    VLLM_MODEL=HuggingFaceTB/SmolLM2-135M-Instruct \
    VLLM_GPU_MEMORY_UTILIZATION=0.35 \
    VLLM_MAX_LORA_RANK=64 \
    VLLM_MAX_LORAS=4 \
    VLLM_STRUCTURED_OUTPUTS_BACKEND=guidance
USER 10001:10001
WORKDIR /home/vllm
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["/bin/sh", "-c", "exec python3 -m vllm.entrypoints.openai.api_server --host 0.0.0.0 --port 8000 --model \"$VLLM_MODEL\" --enable-lora --max-lora-rank \"$VLLM_MAX_LORA_RANK\" --max-loras \"$VLLM_MAX_LORAS\" --gpu-memory-utilization \"$VLLM_GPU_MEMORY_UTILIZATION\" --structured-outputs-config.backend \"$VLLM_STRUCTURED_OUTPUTS_BACKEND\" \"$@\"", "vllm"]
CMD []
