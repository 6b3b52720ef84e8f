import pytest
from delivery_shop import SECRET, seed_shop
from sms_shop import PHONES, add_sms_customers
from sms_standins import SmscStandIn, TwilioStandIn


@pytest.fixture
def shop(migrated):
    """A migrated warehouse (DuckDB and PostgreSQL) holding the tiny test shop."""
    seed_shop(migrated)
    return migrated


@pytest.fixture
def duck_shop(duckdb_migrated):
    seed_shop(duckdb_migrated)
    return duckdb_migrated


@pytest.fixture
def signer():
    from lifecycle.delivery.signing import LinkSigner

    return LinkSigner(SECRET, "https://crm.shop.example/lifecycle-webhooks")


@pytest.fixture
def sender():
    from lifecycle.delivery.email_mime import Sender

    return Sender("shop@shop.example", "Электросфера")


@pytest.fixture
def sms_shop(duck_shop):
    add_sms_customers(duck_shop, PHONES)
    return duck_shop


@pytest.fixture
def smsc():
    with SmscStandIn() as server:
        yield server
    assert server.violations == []


@pytest.fixture
def twilio():
    with TwilioStandIn() as server:
        yield server
    assert server.violations == []
