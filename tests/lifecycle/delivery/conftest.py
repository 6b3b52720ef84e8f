import pytest
from delivery_shop import SECRET, seed_shop


@pytest.fixture
def shop(migrated):
    """A migrated warehouse (DuckDB and PostgreSQL) holding the tiny test shop."""
    seed_shop(migrated)
    return migrated


@pytest.fixture
def duck_shop(duckdb_warehouse):
    from lifecycle.migrations import migrate

    migrate(duckdb_warehouse)
    seed_shop(duckdb_warehouse)
    return duckdb_warehouse


@pytest.fixture
def signer():
    from lifecycle.delivery.signing import LinkSigner

    return LinkSigner(SECRET, "https://crm.shop.example/lifecycle-webhooks")


@pytest.fixture
def sender():
    from lifecycle.delivery.email_mime import Sender

    return Sender("shop@shop.example", "Электросфера")
