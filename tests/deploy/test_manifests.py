"""deploy/: the Kubernetes overlays render and validate, compose validates with a real compose,
the Dockerfiles follow the rules, and every service is deployed everywhere.

Under CI a missing tool (kubectl, docker-compose) fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from .generated import DEPLOY, ROOT, permissions, service_packages

pytestmark = pytest.mark.deploy

PERMS = permissions()
SERVICES = [package.replace("_", "-") for package in service_packages()]
INFRASTRUCTURE = ["nats", "postgres", "vllm"]
OVERLAYS = ["base", "overlays/single-node", "overlays/cluster"]
K8S_VERSION = "1.32.0"  # K3s and managed clusters in service today; the schemas are offline


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (see .ci/run)")
        pytest.skip(f"{tool} is not installed")
    return found


# -- Kubernetes ------------------------------------------------------------------------------


@cache
def rendered(overlay: str) -> tuple[dict, ...]:
    kubectl = need("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(overlay: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in rendered(overlay) if doc["kind"] == kind}


def workloads(overlay: str) -> dict[str, dict]:
    return {**by_kind(overlay, "Deployment"), **by_kind(overlay, "StatefulSet")}


def env_of(workload: dict) -> dict[str, dict]:
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return {entry["name"]: entry for entry in container.get("env", [])}


def config_map(overlay: str, prefix: str) -> dict:
    [found] = [doc for name, doc in by_kind(overlay, "ConfigMap").items() if name.startswith(prefix + "-")]
    return found["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_and_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    docs = rendered(overlay)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert not [d for d in docs if d["kind"] == "Secret"], (
        "Secrets are created from deploy/secrets/, not here"
    )


def test_the_validator_is_strict() -> None:
    import kubernetes_validate

    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_with_probes_its_own_nats_user_and_no_secret_in_clear(overlay: str) -> None:
    found = workloads(overlay)
    assert set(SERVICES + INFRASTRUCTURE) <= set(found), (
        f"missing: {set(SERVICES + INFRASTRUCTURE) - set(found)}"
    )
    for name, workload in found.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, f"{name}: probes"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert "limits" in container["resources"], name
            for entry in container.get("env", []):
                if re.search(r"PASSWORD|DATABASE_URL|API_KEY|TOKEN", entry["name"]):
                    assert "valueFrom" in entry and "secretKeyRef" in entry["valueFrom"], f"{name}: {entry}"
    for service in SERVICES:
        env = env_of(found[service])
        assert env["SKILL_ADAPTER_NATS_USER"]["value"] == service
        ref = env["SKILL_ADAPTER_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("skill-adapter-nats", PERMS.password_variable(service))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_runs_the_generated_users(overlay: str) -> None:
    data = config_map(overlay, "nats-config")
    assert data["auth.conf"] == (DEPLOY / "nats" / "auth.conf").read_text()
    assert "include ./auth.conf" in data["nats-server.conf"]
    assert "sync_interval: always" in data["nats-server.conf"]
    job = by_kind(overlay, "Job")["provision"]
    assert env_of(job)["SKILL_ADAPTER_NATS_USER"]["value"] == PERMS.PROVISIONER


def test_single_node_shares_one_gpu_between_trainer_and_vllm() -> None:
    found = workloads("overlays/single-node")
    assert config_map("overlays/single-node", "skill-adapter-config")["SKILL_ADAPTER_STREAM_REPLICAS"] == "1"
    assert found["nats"]["spec"]["replicas"] == 1
    for name in ("trainer", "vllm"):
        pod = found[name]["spec"]["template"]["spec"]
        assert pod["runtimeClassName"] == "nvidia"
        assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert env_of(found["vllm"])["VLLM_GPU_MEMORY_UTILIZATION"]["value"] == "0.35"


def test_cluster_runs_three_nats_servers_r3_streams_and_gpu_pinned_replicas() -> None:
    overlay = "overlays/cluster"
    found = workloads(overlay)
    assert config_map(overlay, "skill-adapter-config")["SKILL_ADAPTER_STREAM_REPLICAS"] == "3"
    assert found["nats"]["spec"]["replicas"] == 3
    conf = config_map(overlay, "nats-config")["nats-server.conf"]
    assert re.search(r"cluster \{", conf) and conf.count("nats-route://") == 3
    assert by_kind(overlay, "PodDisruptionBudget")["nats"]["spec"]["minAvailable"] == 2
    for name in ("trainer", "vllm"):
        assert found[name]["spec"]["replicas"] >= 2
        pod = found[name]["spec"]["template"]["spec"]
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert found["gateway"]["spec"]["replicas"] >= 2
    ingress = by_kind(overlay, "Ingress")["gateway"]["spec"]
    assert ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "gateway"
    assert ingress["tls"][0]["secretName"] == "gateway-tls"


# -- compose ---------------------------------------------------------------------------------


@cache
def compose_config() -> dict:
    """compose.yaml as a real compose implementation resolves it (Debian's docker-compose, or
    the docker compose plugin)."""
    if shutil.which("docker-compose"):
        command = [shutil.which("docker-compose"), "-f", str(ROOT / "compose.yaml"), "config"]
    elif (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        command = ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config"]
    else:
        need("docker-compose")
        raise AssertionError("unreachable")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_is_valid_and_runs_every_service() -> None:
    services = compose_config()["services"]
    assert set(SERVICES + INFRASTRUCTURE + ["provision"]) <= set(services)
    for name in SERVICES:
        service = services[name]
        env = service["environment"]
        assert env["SKILL_ADAPTER_NATS_USER"] == name
        assert env["SKILL_ADAPTER_NATS_PASSWORD_FILE"] == "/run/secrets/nats_password"
        [secret] = [s for s in service["secrets"] if s.get("target") == "nats_password"]
        assert secret["source"] == f"nats_password_{name}"
        assert service["depends_on"]["provision"]["condition"] == "service_completed_successfully"
        assert Path(service["build"]["dockerfile"]).name == f"{name}.Dockerfile"
    assert services["provision"]["environment"]["SKILL_ADAPTER_NATS_USER"] == PERMS.PROVISIONER


def test_compose_keeps_secrets_in_files_and_pins_the_gpu() -> None:
    config = compose_config()
    for name, service in config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|DATABASE_URL|API_KEY|TOKEN", key):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), f"{name}: {key}"
    for name, secret in config["secrets"].items():
        path = Path(secret["file"])
        assert path.parent == DEPLOY / "secrets", name
        assert (path.parent / (path.name + ".example")).exists(), f"{name}: no example file"
    devices = {
        name: config["services"][name]["deploy"]["resources"]["reservations"]["devices"][0]
        for name in ("trainer", "vllm")
    }
    assert all(d["capabilities"] == ["gpu"] and d["device_ids"] == ["0"] for d in devices.values())
    assert config["services"]["vllm"]["environment"]["VLLM_GPU_MEMORY_UTILIZATION"] == "0.35"
    nats_conf = (DEPLOY / "nats" / "nats-server.conf").read_text()
    assert "sync_interval: always" in nats_conf and "include ./auth.conf" in nats_conf


def test_secrets_are_ignored_by_git() -> None:
    def ignored(name: str) -> bool:
        check = ["git", "check-ignore", "-q", "--no-index", f"deploy/secrets/{name}"]
        return subprocess.run(check, cwd=ROOT).returncode == 0

    assert ignored("nats-users.env") and ignored("database_url") and ignored("nats_password_gateway")
    assert not ignored("nats-users.env.example") and not ignored("generate.py")
    example = (DEPLOY / "secrets" / "nats-users.env.example").read_text()
    assert sorted(line.split("=")[0] for line in example.split()) == sorted(
        PERMS.password_variable(user) for user in [PERMS.PROVISIONER, *PERMS.FOOTPRINTS]
    )


# -- images ----------------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def base_images(steps: list[tuple[str, str]]) -> list[str]:
    args = {}
    stages, images = set(), []
    for keyword, rest in steps:
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name, value)
        elif keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            if image not in stages:
                images.append(image)
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages.add(parts[2])
    return images


@pytest.mark.parametrize("name", [*SERVICES, "vllm"])
def test_every_image_is_multi_stage_pinned_non_root_and_health_checked(name: str) -> None:
    dockerfile = DEPLOY / "docker" / f"{name}.Dockerfile"
    steps = instructions(dockerfile)
    if name != "vllm":  # vLLM's image is used as it is, nothing is built
        assert sum(1 for keyword, _ in steps if keyword == "FROM") >= 2, "multi-stage: no build tools shipped"
    for image in base_images(steps):
        repository, _, tag = image.rpartition(":")
        assert repository and re.search(r"\d", tag) and tag != "latest", f"unpinned base image {image}"
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    assert any(keyword == "HEALTHCHECK" for keyword, _ in steps)


def test_gpu_images() -> None:
    trainer = base_images(instructions(DEPLOY / "docker" / "trainer.Dockerfile"))
    assert all(image.startswith("nvidia/cuda:13.") for image in trainer), "multi-arch CUDA 13 base"
    assert "download.pytorch.org/whl/cu130" in (DEPLOY / "docker" / "trainer.Dockerfile").read_text()
    vllm = (DEPLOY / "docker" / "vllm.Dockerfile").read_text()
    assert "--enable-lora" in vllm and "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in vllm
    assert (
        "--structured-outputs-config.backend" in vllm and "VLLM_STRUCTURED_OUTPUTS_BACKEND=guidance" in vllm
    )
    gateway = dict(instructions(DEPLOY / "docker" / "gateway.Dockerfile"))
    assert "ARG EXTRAS=gateway" in (DEPLOY / "docker" / "gateway.Dockerfile").read_text(), (
        "the gateway image has no torch unless asked"
    )
    assert gateway


def test_entrypoint_is_executable_and_shell_clean() -> None:
    entrypoint = DEPLOY / "docker" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    assert subprocess.run(["sh", "-n", str(entrypoint)]).returncode == 0
    result = subprocess.run(
        [str(entrypoint), "sh", "-c", 'echo "$DATABASE_URL|${DATABASE_URL_FILE:-}"'],
        env={
            "PATH": os.environ["PATH"],
            "DATABASE_URL_FILE": str(DEPLOY / "secrets" / "database_url.example"),
        },
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "postgresql://skill_adapter:change-me@postgres:5432/skill_adapter|"
