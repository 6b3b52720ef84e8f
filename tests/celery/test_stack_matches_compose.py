"""The stack of `make test-celery` is the docker-compose deployment on one machine: the same executor, broker
and result backend kinds, the same auth manager, pools and connections. Read from the files, no servers."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose_env() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    return compose["x-airflow-common"]["environment"]


@pytest.fixture(scope="module")
def compose_init() -> dict:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    return compose["services"]["airflow-init"]


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory) -> dict[str, str]:
    from celery_stack import CeleryStack

    stack = CeleryStack(
        workdir=tmp_path_factory.mktemp("unused"),
        pg_admin_url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        redis_url="redis://127.0.0.1:6379/11",
    )
    return stack.env()


def _scheme(url: str) -> str:
    return url.split("://", 1)[0]


def test_same_executor_broker_and_result_backend(compose_env, stack_env):
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__AUTH_MANAGER"):
        assert stack_env[key] == compose_env[key], key
    assert stack_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for key in (
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ):
        assert _scheme(stack_env[key]) == _scheme(compose_env[key]), key
    # Results go to the metadata database, as in the compose file.
    metadata = stack_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("@", 1)[1]
    assert stack_env["AIRFLOW__CELERY__RESULT_BACKEND"].split("@", 1)[1] == metadata


def test_same_connections(compose_env, stack_env):
    """The same connection ids with the same types (the compose values hold ``${VAR}`` placeholders)."""

    def conn_types(env):
        return {
            key: re.search(r'"conn_type":\s*"([^"]+)"', value)[1]
            for key, value in env.items()
            if key.startswith("AIRFLOW_CONN_")
        }

    assert conn_types(stack_env) == conn_types(compose_env)
    assert json.loads(stack_env["AIRFLOW_CONN_LIFECYCLE_WAREHOUSE"])["conn_type"] == "postgres"


def test_same_pools(compose_init):
    from celery_stack import POOLS

    script = "\n".join(compose_init["command"])
    created = dict(re.findall(r"airflow pools set (\S+) \"?([^\s\"]+)\"? ", script))
    default_slots = re.fullmatch(
        r"\$\{LIFECYCLE_WAREHOUSE_POOL_SLOTS:-(\d+)\}",
        compose_init["environment"]["LIFECYCLE_WAREHOUSE_POOL_SLOTS"],
    )[1]
    created = {
        pool: int(default_slots if "LIFECYCLE_WAREHOUSE_POOL_SLOTS" in slots else slots)
        for pool, slots in created.items()
    }
    assert created == POOLS
