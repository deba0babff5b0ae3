"""The docker compose deployment, checked by reading its files.

Docker cannot run on the machines this project is developed on, so nothing here
starts a container: docker-compose.yaml, .env.example, Dockerfile and
.dockerignore are parsed and held to what the README's "Deployment (docker
compose)" section promises (which this test also reads, so the two agree).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from crm_hygiene.keys import HashKeyError, parse_hash_keys

COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
README = REPO / "README.md"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init")
REQUIRED_SERVICES = (*AIRFLOW_SERVICES, "redis", "postgres", "crm-postgres")
PUBLISHES_PORTS = {"airflow-apiserver"}
# Container path -> the repository folder (or data folder) mounted there.
MOUNTS = {
    "/opt/airflow/dags": "./dags",
    "/opt/airflow/plugins": "./plugins",
    "/opt/airflow/include": "./include",
    "/opt/airflow/data": "${CRM_DATA_HOST_DIR:-./data}",
    "/opt/airflow/logs": "./logs",
    "/opt/airflow/erasure_log": "${CRM_ERASURE_LOG_HOST_DIR:-./erasure_log}",
}
# Variables whose value is a credential: never a default, never a literal.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|^AIRFLOW_CONN_")
# Credentials of optional features: empty (the feature off) by default, never a literal.
# The SMTP connection carries the alert mailbox's password; without it no email is sent.
OPTIONAL_SECRETS = {"AIRFLOW_CONN_SMTP_DEFAULT"}
# Environment keys inside the containers that carry a credential.
SECRET_ENV_KEY = re.compile(r"PASSWORD|SECRET|_KEY$|_CONN$|^AIRFLOW_CONN_|BROKER_URL|RESULT_BACKEND")
# A short-syntax volume: source (a path or one ${...}), container path, optional mode.
_VOLUME = re.compile(r"(?P<source>\$\{[^}]*\}|[^:]+):(?P<target>[^:]+)(?::(?P<mode>\w+))?")
PLACEHOLDER = "<change-me>"
# ${NAME...} or $NAME, as compose interpolates them ($$ is a literal dollar).
_INTERPOLATION = re.compile(r"\$\{(?P<braced>[A-Za-z_]\w*)(?P<op>:?[-?+])?|\$(?P<bare>[A-Za-z_]\w*)")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict]:
    return compose()["services"]


def strings_in(node) -> list[str]:
    """Every string value in a parsed YAML tree (keys are never interpolated)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings_in(value)]
    return []


def interpolations(text: str) -> list[tuple[str, str]]:
    """(variable, operator) for each interpolation compose would make in `text`."""
    found, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        match = _INTERPOLATION.match(text, i) if text[i] == "$" else None
        if match:
            found.append((match["braced"] or match["bare"], match["op"] or ""))
            i = match.end()
        else:
            i += 1
    return found


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the NAME=value list form
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def one_shot_services() -> set[str]:
    """Services others wait on to complete (airflow-init), and those started only on request."""
    one_shot = {name for name, svc in services().items() if svc.get("profiles")}
    for svc in services().values():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):
            one_shot |= {dep for dep, how in deps.items() if how.get("condition") == "service_completed_successfully"}
    return one_shot


def long_running_services() -> dict[str, dict]:
    return {name: svc for name, svc in services().items() if name not in one_shot_services()}


def airflow_services() -> dict[str, dict]:
    """Every service built on the common anchor (same image as x-airflow-common)."""
    image = compose()["x-airflow-common"]["image"]
    return {name: svc for name, svc in services().items() if svc.get("image") == image}


def readme_deployment_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Deployment \(docker compose\)\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README has no '## Deployment (docker compose)' section"
    return match.group(1)


def test_the_stack_has_every_service():
    missing = [name for name in REQUIRED_SERVICES if name not in services()]
    assert not missing, f"docker-compose.yaml lacks {missing}"
    assert set(AIRFLOW_SERVICES) <= set(airflow_services()), "an Airflow service does not use the common anchor"
    assert services()["crm-postgres"]["volumes"] != services()["postgres"]["volumes"], \
        "the CRM and Airflow's metadata must not share a volume"


def test_airflow_runs_on_celery_with_redis_as_broker():
    for name, svc in airflow_services().items():
        env = environment(svc)
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        broker = env.get("AIRFLOW__CELERY__BROKER_URL", "")
        assert re.fullmatch(r"redis://[^@]*@redis:6379/\d+", broker), (name, broker)
    assert services()["airflow-worker"]["command"] == "celery worker"


def test_only_the_api_server_publishes_a_port_and_workers_scale():
    publishing = {name for name, svc in services().items() if svc.get("ports")}
    assert publishing == PUBLISHES_PORTS, f"services publishing host ports: {sorted(publishing)}"
    named = [name for name, svc in services().items() if "container_name" in svc]
    assert not named, f"container_name stops `--scale`: {named}"
    worker = services()["airflow-worker"]
    assert not worker.get("ports") and "replicas" not in (worker.get("deploy") or {})


def test_every_long_running_service_has_a_healthcheck_and_is_waited_for_healthy():
    for name, svc in long_running_services().items():
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for name, svc in services().items():
        for dep, how in (svc.get("depends_on") or {}).items():
            expected = ("service_completed_successfully" if dep in one_shot_services() else "service_healthy")
            assert how.get("condition") == expected, (name, dep, how)
    for name in set(AIRFLOW_SERVICES) - one_shot_services():
        assert services()[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_every_airflow_service_mounts_the_code_data_and_logs_where_the_code_looks():
    common = compose()["x-airflow-common"]
    for name, svc in airflow_services().items():
        assert svc["volumes"] == common["volumes"], f"{name} does not take its mounts from the common anchor"
        mounted = {}
        for volume in svc["volumes"]:
            parts = _VOLUME.fullmatch(volume)
            assert parts, f"{name}: unreadable volume {volume!r}"
            mounted[parts["target"]] = parts["source"]
        for target, source in MOUNTS.items():
            assert mounted.get(target) == source, (name, target, mounted.get(target))
        env = environment(svc)
        path = env.get("PYTHONPATH", "").split(":")
        assert "/opt/airflow/plugins" in path, (name, path)  # crm_hygiene, crm_airflow
        # crm_hygiene finds include/ beside plugins/ (db.REPO_ROOT): that parent is on the path too.
        assert str(Path("/opt/airflow/plugins").parent) in path, (name, path)
        assert env.get("CRM_DATA_DIR") == "/opt/airflow/data", name
        assert env.get("CRM_ERASURE_LOG_DIR") == "/opt/airflow/erasure_log", name
        assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES", "").lower() == "false", name
        assert env.get("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "").lower() == "false", name
    assert Path(MOUNTS["/opt/airflow/include"]).name == "include"
    for source in ("./dags", "./plugins/crm_hygiene", "./include/sql", "./include/migrations"):
        assert (REPO / source).is_dir(), source


def test_every_variable_compose_uses_is_in_env_example_and_no_other():
    used = {name for text in strings_in(compose()) for name, _ in interpolations(text)}
    listed = set(env_example())
    assert used - listed == set(), f"used in docker-compose.yaml but not in .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"in .env.example but unused: {sorted(listed - used)}"


def test_no_credential_is_written_in_the_compose_file():
    for text in strings_in(compose()):
        for name, op in interpolations(text):
            if name in OPTIONAL_SECRETS:
                assert op == ":-" and f"${{{name}:-}}" in text, f"${{{name}}} may only default to empty: {text!r}"
            elif SECRET_NAME.search(name):
                assert op == ":?", f"${{{name}}} must be required (${{{name}:?...}}), never defaulted: {text!r}"
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if not SECRET_ENV_KEY.search(key):
                continue
            # What is left once each ${...} is taken out must hold no credential.
            literal = re.sub(r"\$\{[^}]*\}", "", value)
            assert interpolations(value), f"{name}: {key} is a literal: give it from .env"
            assert not re.search(r"://[^/@]*:[^@/]+@", literal), f"{name}: {key} has a literal password"
            if "://" not in value:
                assert literal == "", f"{name}: {key} mixes a literal into its secret"
    # Requirements are baked into the image, never installed at every start.
    assert not [name for name, svc in services().items() if "_PIP_ADDITIONAL_REQUIREMENTS" in environment(svc)]


def test_env_example_holds_placeholders_only_and_the_stack_refuses_them():
    values = env_example()
    secrets = {name: value for name, value in values.items() if SECRET_NAME.search(name)}
    assert secrets, ".env.example lists no secret"
    for name, value in secrets.items():
        if name in OPTIONAL_SECRETS:
            assert value == "", f".env.example: {name} is optional and must be empty, not {value!r}"
            continue
        refs = [ref for ref, _ in interpolations(value)]
        assert value == PLACEHOLDER or (refs and all(values.get(ref) == PLACEHOLDER for ref in refs)), \
            f".env.example: {name} must be {PLACEHOLDER} (or built from placeholders), not {value!r}"
    init = services()["airflow-init"]
    script = "\n".join(init["command"])
    guarded = re.search(r"for pair in ([^;]*);", script, re.S)
    assert guarded and "change-me" in script and "exit 1" in script, "airflow-init does not refuse placeholders"
    # setting/variable pairs: the setting checked, and the .env variable its message names.
    pairs = [pair.split("/") for pair in guarded.group(1).replace("\\", " ").split()]
    checked = {setting for setting, _ in pairs}
    def reaches(value: str) -> set[str]:
        """The .env variables a value is built from, through .env.example's own references."""
        refs = {ref for ref, _ in interpolations(value)}
        return refs | {inner for ref in refs for inner, _ in interpolations(values.get(ref, ""))}

    init_env = environment(init)
    for name in set(secrets) - OPTIONAL_SECRETS:
        if name == "CRM_HASH_KEY":  # only the worker holds it; the pipeline itself refuses the placeholder
            with pytest.raises(HashKeyError):
                parse_hash_keys(PLACEHOLDER)
            continue
        carriers = {key for key, value in init_env.items() if name in reaches(value)}
        assert carriers & checked, f"airflow-init does not check {name} for the placeholder"
    for setting, variable in pairs:
        assert variable in reaches(init_env.get(setting, "")), f"airflow-init blames {variable} for {setting}"
    # A database volume keeps the password of its first start: the databases refuse it too.
    for db in ("postgres", "crm-postgres"):
        assert "change-me" in " ".join(services()[db]["command"]), f"{db} would start with the placeholder"


def test_the_hash_key_goes_to_the_workers_only():
    holders = {name for name, svc in services().items() if "CRM_HASH_KEY" in environment(svc)}
    assert holders == {"airflow-worker"}, holders


def test_env_is_gitignored_and_its_example_is_not():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO).returncode
    assert ignored == 0, ".env is not in .gitignore"
    example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=REPO).returncode
    assert example == 1, ".env.example must be committed"


def test_the_image_is_official_airflow_with_the_locked_requirements():
    build = compose()["x-airflow-common"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    image = next(line for line in instructions if line.startswith("FROM")).split()[1]
    assert re.fullmatch(r"apache/airflow:3\.3\.2(-python3\.11)?", image), image
    pinned = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert image.split(":")[1].startswith(pinned), f"image {image} but requirements.txt pins Airflow {pinned}"
    dockerfile = " ".join(instructions).replace("\\ ", " ")
    install = re.search(r"RUN pip install (.*?)(?:&&|$)", dockerfile)
    assert install, "the Dockerfile installs nothing with pip"
    assert re.search(r"-r \S*requirements\.txt", install.group(1)), install.group(1)
    assert re.search(r"-c \S*constraints\.txt", install.group(1)), install.group(1)
    assert "pip check" in dockerfile
    users = [line.split()[1] for line in instructions if line.startswith("USER")]
    assert users and users[-1] == "airflow", "pip must run as the airflow user"
    # The build context carries the two pin files only: never data/, .env or .venv.
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore == ["*", "!requirements.txt", "!constraints.txt"], ignore


def test_airflow_init_migrates_airflow_and_the_crm_and_stops_on_failure():
    init = services()["airflow-init"]
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert re.search(r"^set -[a-z]*e", script, re.M), "airflow-init must stop at the first failing step"
    assert re.search(r"\bairflow db migrate\b", script), "airflow-init does not migrate Airflow's metadata"
    assert re.search(r"\bpython -m crm_hygiene\.cli db-upgrade\b", script), "airflow-init does not migrate the CRM"
    assert "_AIRFLOW_DB_MIGRATE" not in environment(init), "the entrypoint's migration ignores failures"
    assert "AIRFLOW_CONN_CRM_DB" in environment(init)


def test_readme_deployment_section_names_every_service_and_variable():
    section = readme_deployment_section()
    text = README.read_text(encoding="utf-8")
    assert re.search(r"^## Settings\n.*?^## Deployment \(docker compose\)", text, re.S | re.M) and \
        not re.search(r"^## Settings\n.*?^## (?!Deployment).*?^## Deployment", text, re.S | re.M), \
        "the deployment section belongs right after 'Settings'"
    unnamed = [name for name in services() if f"`{name}`" not in section]
    assert not unnamed, f"README deployment section does not name services {unnamed}"
    unlisted = [name for name in env_example() if f"`{name}`" not in section]
    assert not unlisted, f"README deployment section does not list variables {unlisted}"
