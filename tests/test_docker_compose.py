"""The docker-compose deployment, checked by reading its files: Docker does not run where the tests run.

docker-compose.yaml, the Dockerfile, .env.example and docker/postgres-init are compared with each other and
with the project (requirements.txt, pyproject.toml, the packages in include/ and plugins/, dag_defaults.py),
so a change on one side that the other does not follow fails here. Values are read the way docker compose
reads them: YAML merge keys resolved, and ``${VAR}`` filled in from .env.example, as after
``cp .env.example .env``.
"""

import ast
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
WAREHOUSE_INIT_SQL = ROOT / "docker" / "postgres-init" / "01-warehouse.sql"

# The brief for the deployment: the services of the official Airflow 3 file.
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
PROFILED_SERVICES = {"airflow-cli": "debug", "flower": "flower"}
# Folders every Airflow container mounts from the project, under /opt/airflow.
MOUNTED_FOLDERS = ("dags", "plugins", "include", "logs", "config")
CONTAINER_HOME = PurePosixPath("/opt/airflow")

_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


# --- reading the files ---------------------------------------------------------------------------------


def _dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as docker compose reads them: comments skipped, one pair of outer quotes removed."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: line {line!r} is not KEY=VALUE"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``…"""

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        parts = _BRACED.fullmatch(match["braced"])
        assert parts, f"unsupported interpolation ${{{match['braced']}}}"
        value, op, arg = env.get(parts["name"]), parts["op"], parts["arg"]
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            assert value if op == ":?" else value is not None, f"${{{parts['name']}}} is required: {arg}"
            return value
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return "" if value is None else arg
        return value or ""

    return _VARIABLE.sub(substitute, text)


def _strings(node):
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _resolve(node, env):
    if isinstance(node, str):
        return _interpolate(node, env)
    if isinstance(node, dict):
        return {key: _resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, env) for item in node]
    return node


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return _dotenv(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose, env_example) -> dict:
    return _resolve(raw_compose, env_example)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(services) -> dict:
    """The services that run the project's Airflow image (all but postgres and redis)."""
    return {name: spec for name, spec in services.items() if "build" in spec}


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _instructions(dockerfile: list[str], keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in dockerfile if line.split(None, 1)[0].upper() == keyword]


def _dockerfile_pythonpath(dockerfile: list[str]) -> str:
    values = [
        m[1] for env in _instructions(dockerfile, "ENV") if (m := re.match(r"PYTHONPATH[= ](\S+)", env))
    ]
    assert len(values) == 1, f"the Dockerfile should set PYTHONPATH once, found {values}"
    return values[0]


def _service_by_image(services: dict, image: str) -> str:
    names = [name for name, spec in services.items() if str(spec.get("image", "")).startswith(f"{image}:")]
    assert len(names) == 1, f"expected one {image} service, found {names}"
    return names[0]


def _mounts(spec: dict) -> dict[PurePosixPath, Path]:
    """Bind mounts of a service as {container path: host path}; named volumes are left out."""
    mounts = {}
    for volume in spec.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[PurePosixPath(target)] = (ROOT / source).resolve()
    return mounts


def _host_path(container_path: str, mounts: dict[PurePosixPath, Path]) -> Path | None:
    path = PurePosixPath(container_path)
    for target, source in mounts.items():
        if path == target or target in path.parents:
            return source.joinpath(*path.relative_to(target).parts)
    return None


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _first_party_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["tool"]["ruff"]["lint"]["isort"]["known-first-party"]


def _warehouse_connection(service: dict) -> dict:
    return json.loads(service["environment"]["AIRFLOW_CONN_LIFECYCLE_WAREHOUSE"])


def _init_script(services: dict) -> str:
    init = services["airflow-init"]
    assert init["entrypoint"] == "/bin/bash"
    assert init["command"][0] == "-c"
    return init["command"][1]


# --- services and image --------------------------------------------------------------------------------


def test_the_official_services_exist(services, airflow_services):
    assert {"postgres", "redis"} <= services.keys()
    assert airflow_services.keys() >= AIRFLOW_SERVICES
    for name, profile in PROFILED_SERVICES.items():
        assert name in airflow_services, f"{name} is missing or does not run the project's image"
        assert services[name].get("profiles") == [profile]
    for name in AIRFLOW_SERVICES:
        assert "profiles" not in services[name], f"{name} must start with a plain `docker compose up`"


def test_every_airflow_service_builds_the_project_dockerfile(airflow_services):
    for name, spec in airflow_services.items():
        build = spec["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE, name
        assert "image" not in spec, f"{name}: set `build` only, or compose may pull `image` from a registry"


def test_dockerfile_base_image_matches_the_pins(dockerfile):
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", requirements, re.MULTILINE)[1]
    target = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"][
        "target-version"
    ]
    python = f"{target[2]}.{target[3:]}"  # "py311" -> "3.11"

    (base,) = _instructions(dockerfile, "FROM")
    assert base == f"apache/airflow:{airflow_pin}-python{python}"


def test_dockerfile_installs_the_pinned_requirements_as_the_airflow_user(dockerfile):
    pip_runs = [i for i, line in enumerate(dockerfile) if line.startswith("RUN") and "pip install" in line]
    assert len(pip_runs) == 1
    command = dockerfile[pip_runs[0]]
    assert "--no-cache-dir" in command
    assert re.search(r"""["']?apache-airflow==\$\{AIRFLOW_VERSION\}["']?""", command)
    (requirements_file,) = re.findall(r"-r\s+(\S+)", command)
    copied = [c.split()[-2:] for c in _instructions(dockerfile[: pip_runs[0]], "COPY")]
    assert ["requirements.txt", requirements_file] in copied, "the pip install must read the copied lock file"
    users = _instructions(dockerfile[: pip_runs[0]], "USER")
    assert users, "the Dockerfile should switch to USER airflow before pip install"
    assert users[-1] == "airflow"


def test_dockerfile_puts_the_project_packages_on_pythonpath(dockerfile):
    """Each first-party package is reachable from PYTHONPATH once the project is copied into /opt/airflow."""
    copies = [c.split()[-2:] for c in _instructions(dockerfile, "COPY")]
    assert [".", f"{CONTAINER_HOME}/"] in copies
    entries = [PurePosixPath(p) for p in _dockerfile_pythonpath(dockerfile).split(":")]
    for package in _first_party_packages():
        found = [
            e for e in entries if (ROOT / e.relative_to(CONTAINER_HOME) / package / "__init__.py").is_file()
        ]
        assert found, f"no PYTHONPATH entry of the image holds the package {package}"
    ignored = _dockerignore()
    for entry in entries:
        assert f"!{entry.relative_to(CONTAINER_HOME)}/" in ignored, f".dockerignore keeps {entry} out"


def test_build_context_keeps_secrets_and_local_state_out():
    patterns = _dockerignore()
    assert patterns[0] == "*", ".dockerignore should allow-list what the image needs"
    assert not [p for p in patterns if p.startswith("!") and p.strip("!/").split("/")[0] in {".env", ".venv"}]


# --- Airflow configuration -----------------------------------------------------------------------------


def test_celery_executor_with_redis_broker_and_postgres_result_backend(services, airflow_services):
    redis, postgres = _service_by_image(services, "redis"), _service_by_image(services, "postgres")
    for name, spec in airflow_services.items():
        env = spec["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert re.fullmatch(rf"redis://[^@]*@{redis}:6379/\d+", env["AIRFLOW__CELERY__BROKER_URL"]), name
        assert re.fullmatch(rf"db\+postgresql://[^@]+@{postgres}/\w+", env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name


def test_every_airflow_service_mounts_the_project_and_sets_pythonpath(airflow_services, dockerfile):
    pythonpath = _dockerfile_pythonpath(dockerfile)
    for name, spec in airflow_services.items():
        mounts = _mounts(spec)
        for folder in MOUNTED_FOLDERS:
            assert mounts.get(CONTAINER_HOME / folder) == ROOT / folder, f"{name} does not mount {folder}/"
        assert spec["environment"]["PYTHONPATH"] == pythonpath, name
        # What `import lifecycle` / `import lifecycle_providers` would find inside this container.
        entries = [_host_path(entry, mounts) for entry in pythonpath.split(":")]
        for package in _first_party_packages():
            assert any(e and (e / package / "__init__.py").is_file() for e in entries), (name, package)


def test_api_server_serves_port_8080_with_a_health_check(services, airflow_services):
    api = services["airflow-apiserver"]
    assert "8080:8080" in api["ports"]
    assert api["healthcheck"]["test"][-1] == "http://localhost:8080/api/v2/monitor/health"
    for name, spec in airflow_services.items():
        url = spec["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        assert url == "http://airflow-apiserver:8080/execution/", name


def test_worker_waits_for_healthy_redis_and_postgres(services):
    depends_on = services["airflow-worker"]["depends_on"]
    for dependency in (_service_by_image(services, "redis"), _service_by_image(services, "postgres")):
        assert depends_on[dependency]["condition"] == "service_healthy"
        assert services[dependency]["healthcheck"]["test"]
    assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"


def test_worker_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "published ports would clash between worker replicas"


def test_secrets_come_from_variables(raw_compose):
    env = raw_compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == "${FERNET_KEY}"
    assert re.fullmatch(
        r"\$\{AIRFLOW__API_AUTH__JWT_SECRET(:-[^}]*)?\}", env["AIRFLOW__API_AUTH__JWT_SECRET"]
    )


# --- the warehouse -------------------------------------------------------------------------------------


def test_warehouse_connection_points_at_the_database_the_init_script_creates(services, airflow_services):
    sql = WAREHOUSE_INIT_SQL.read_text(encoding="utf-8")
    role = re.search(r"^CREATE ROLE (\w+) LOGIN", sql, re.MULTILINE)[1]
    database = re.search(rf"^CREATE DATABASE (\w+) OWNER {role};", sql, re.MULTILINE)[1]
    password_variable = re.search(r"^\\getenv lifecycle_password (\w+)$", sql, re.MULTILINE)[1]
    postgres = _service_by_image(services, "postgres")

    assert (
        _mounts(services[postgres])[PurePosixPath("/docker-entrypoint-initdb.d")] == WAREHOUSE_INIT_SQL.parent
    )
    for name, spec in airflow_services.items():
        conn = _warehouse_connection(spec)
        assert conn["conn_type"] == "postgres", name
        assert (conn["host"], conn["port"], conn["schema"], conn["login"]) == (postgres, 5432, database, role)
        assert conn["password"] == services[postgres]["environment"][password_variable], name


def test_warehouse_connection_works_with_the_project_hook(airflow_services, monkeypatch):
    """Airflow parses the JSON and WarehouseHook turns it into the PostgreSQL URL the pipeline opens."""
    import sqlalchemy as sa

    from lifecycle_providers.hooks.warehouse import WarehouseHook

    conn = _warehouse_connection(airflow_services["airflow-worker"])
    env_name = "AIRFLOW_CONN_" + WarehouseHook.default_conn_name.upper()
    monkeypatch.setenv(env_name, airflow_services["airflow-worker"]["environment"][env_name])
    url = sa.make_url(WarehouseHook().sqlalchemy_url())
    assert url.get_backend_name() == "postgresql"
    assert (url.host, url.port, url.database, url.username, url.password) == (
        conn["host"],
        conn["port"],
        conn["schema"],
        conn["login"],
        conn["password"],
    )
    assert url.query == {"sslmode": conn["extra"]["sslmode"]}


def test_airflow_init_creates_the_warehouse_pool_used_by_the_dags(services):
    tree = ast.parse(
        (ROOT / "plugins" / "lifecycle_providers" / "dag_defaults.py").read_text(encoding="utf-8")
    )
    pools = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", None) == "WAREHOUSE_POOL" for target in node.targets)
    ]
    assert len(pools) == 1
    script = re.sub(r"\s*\\\n\s*", " ", _init_script(services))
    created = re.findall(r"airflow pools set (\S+) \"([^\"]+)\" \"[^\"]+\"", script)
    assert [pool for pool, _ in created] == pools
    slots = created[0][1]
    if slots.startswith("$"):
        slots = services["airflow-init"]["environment"][slots.strip("${}")]
    assert int(slots) > 1, "PostgreSQL takes concurrent writers; one slot is only for the DuckDB file"


def test_airflow_init_script_is_valid_bash(services):
    bash = shutil.which("bash")
    assert bash, "bash is needed to check the airflow-init script"
    result = subprocess.run([bash, "-n"], input=_init_script(services), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- .env.example --------------------------------------------------------------------------------------


def test_env_example_defines_every_variable_compose_needs(raw_compose, env_example):
    """Every ``${VAR}``, ``$VAR`` or ``${VAR:?…}`` without a default must be set by .env.example."""
    required = set()
    for text in _strings(raw_compose):
        for match in _VARIABLE.finditer(text):
            if match["named"]:
                required.add(match["named"])
            elif match["braced"] is not None:
                parts = _BRACED.fullmatch(match["braced"])
                if parts["op"] in (None, ":?", "?"):
                    required.add(parts["name"])
    assert required, "the check found no required variable at all; is the parser broken?"
    assert required - env_example.keys() == set()


def test_env_example_holds_placeholders_only(env_example):
    secret = re.compile(r"KEY|SECRET|PASSWORD|TOKEN", re.IGNORECASE)
    for key, value in env_example.items():
        if key.startswith("AIRFLOW_CONN_"):
            conn = json.loads(value)
            assert conn["conn_type"], key
            for field in ("password", "login"):
                assert "CHANGE-ME" in conn.get(field, "CHANGE-ME"), f"{key}: {field} looks real"
            assert conn.get("host", "").split("/")[-1].endswith(".invalid"), f"{key}: host looks real"
        elif secret.search(key):
            assert "CHANGE-ME" in value, f"{key} in .env.example must be an obvious placeholder"


def test_env_file_is_git_ignored():
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env.example" not in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


# --- what the DAGs need, the stack provides ----------------------------------------------------------------


def _dag_needs() -> tuple[set[str], set[str]]:
    """The pools and connection ids the project's DAGs use: each task's pool, each operator's ``*_conn_id``
    (templated ones resolved with the DAG's param defaults), and the connections the task code opens
    through the project's hooks (warehouse, signed links, the REST API for run notes)."""
    from airflow.dag_processing.dagbag import DagBag

    from lifecycle_providers.hooks.links import DeliveryLinksHook
    from lifecycle_providers.hooks.warehouse import WarehouseHook
    from lifecycle_providers.ui.run_note import API_CONN_ID

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    pools, connections = (
        set(),
        {WarehouseHook.default_conn_name, DeliveryLinksHook.default_conn_name, API_CONN_ID},
    )
    for dag in bag.dags.values():
        params = {name: dag.params[name] for name in dag.params}
        for task in dag.tasks:
            if task.pool and task.pool != "default_pool":
                pools.add(task.pool)
            for name in dir(task):
                if not name.endswith("_conn_id") or name.startswith("_"):
                    continue
                value = getattr(task, name, None)
                if isinstance(value, str) and value:
                    found = re.fullmatch(r"\{\{\s*params\.(\w+)\s*\}\}", value)
                    connections.add(params[found[1]] if found else value)
    return pools, connections


def test_the_stack_provides_every_pool_and_connection_the_dags_use(services, airflow_services):
    """A missing pool leaves tasks in Scheduled for ever; a missing connection fails them at run time. The
    stack's files must provide everything the DAGs use, with a connection type their hooks accept."""
    from lifecycle_providers.operators.dispatch import HOOKS_BY_CONN_TYPE

    pools, connections = _dag_needs()
    assert {
        "lifecycle_warehouse",
        "lifecycle_delivery_email",
        "lifecycle_delivery_push",
        "lifecycle_delivery_sms",
    } <= pools
    script = re.sub(r"\s*\\\n\s*", " ", _init_script(services))
    created = set(re.findall(r"airflow pools set (\S+) ", script))
    assert pools - created == set(), (
        f"pools the DAGs use that airflow-init does not create: {pools - created}"
    )
    for name, spec in airflow_services.items():
        env = spec.get("environment", {})
        provided = {
            key.removeprefix("AIRFLOW_CONN_").lower() for key in env if key.startswith("AIRFLOW_CONN_")
        }
        assert connections - provided == set(), f"{name} lacks connections {connections - provided}"
        sandbox = json.loads(env["AIRFLOW_CONN_LIFECYCLE_SANDBOX"])
        assert sandbox["conn_type"] in HOOKS_BY_CONN_TYPE, "dispatch must accept the sandbox's type"
        assert _host_path(sandbox["extra"]["path"], _mounts(spec)) == ROOT / "data" / "outbox"
        links = json.loads(env["AIRFLOW_CONN_LIFECYCLE_LINKS"])
        assert links["conn_type"] == "generic"
        assert links["password"]
        assert links["extra"]["base_url"].endswith("/lifecycle-webhooks")


def test_the_links_connection_works_with_the_project_hook(airflow_services, monkeypatch):
    from lifecycle_providers.hooks.links import DeliveryLinksHook
    from lifecycle_providers.hooks.sandbox import SandboxHook

    env = airflow_services["airflow-scheduler"]["environment"]
    monkeypatch.setenv("AIRFLOW_CONN_LIFECYCLE_LINKS", env["AIRFLOW_CONN_LIFECYCLE_LINKS"])
    monkeypatch.setenv("AIRFLOW_CONN_LIFECYCLE_SANDBOX", env["AIRFLOW_CONN_LIFECYCLE_SANDBOX"])
    signer = DeliveryLinksHook().get_conn()
    assert signer.verify_unsubscribe(signer.unsubscribe_url("k").rsplit("/", 1)[1]) == "k"
    assert SandboxHook().get_conn().name == "sandbox"
