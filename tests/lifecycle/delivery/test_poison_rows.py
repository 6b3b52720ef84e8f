"""A row that cannot be rendered fails alone, with its reason; the rest of the batch goes out; after the fix
the documented re-plan command sends it. Templates are rendered against sample data before anything runs."""

import shutil

from delivery_shop import NOW, Clock, add_customers, ledger, ledger_row, plan, run_dispatch

from lifecycle.delivery.providers.sandbox import SandboxProvider
from lifecycle.delivery.render import Templates
from lifecycle.delivery.replan import replan
from lifecycle.delivery.validate import validate_templates
from lifecycle.paths import TEMPLATES_DIR


def _price(warehouse, product_id, price):
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"UPDATE crm.products SET price = {price} WHERE product_id = {product_id}")


def test_an_infinite_price_fails_only_its_row_and_replan_sends_it_after_the_fix(
    shop, signer, sender, tmp_path
):
    customers = add_customers(shop, 49)
    rows = [ledger_row(f"w{c}", c, "ru/welcome/email_1", {}) for c in customers]
    rows.append(ledger_row("cart-poison", 1, "ru/abandoned_cart/email_1", {"product_id": 102}))
    plan(shop, rows)
    with shop.begin() as conn:
        conn.exec_driver_sql("UPDATE crm.products SET price = 'Infinity' WHERE product_id = 102")

    provider = SandboxProvider(tmp_path, sender)
    report = run_dispatch(shop, provider, signer, "email")
    states = {k: r["state"] for k, r in ledger(shop).items()}
    assert states.pop("cart-poison") == "failed"
    assert set(states.values()) == {"sent"}
    assert report.sent == 49
    error = ledger(shop)["cart-poison"]["last_error"]
    assert error.startswith("render: ")
    assert "inf" in error

    _price(shop, 102, 54990)
    result = replan(shop, "render:", now=NOW)
    assert (result.replanned, result.fresh) == (0, 1)  # without apply, only shown
    assert replan(shop, "render:", apply=True, now=NOW).replanned == 1
    later = Clock(NOW)
    assert run_dispatch(shop, provider, signer, "email", later).sent == 1
    assert ledger(shop)["cart-poison"]["state"] == "sent"


def test_every_shipped_template_renders_against_sample_data():
    assert validate_templates() == []


def test_a_template_with_an_undefined_variable_is_caught_naming_the_template(tmp_path):
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    body = root / "ru" / "welcome" / "email_2" / "subject.txt"
    body.write_text("{{ customer.nickname }}, добро пожаловать", encoding="utf-8")
    problems = validate_templates(Templates(root))
    assert len(problems) == 1
    assert problems[0].startswith("ru/welcome/email_2: ")
    assert "nickname" in problems[0]


def test_a_chain_whose_template_cannot_render_stops_before_planning(tmp_path, monkeypatch):
    """The chains DAG's validation loads every chain with its templates rendered against sample data: the
    broken chain fails alone, naming its file, the step and the template's problem."""
    import pytest

    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.delivery import validate
    from lifecycle.errors import ConfigError

    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    (root / "ru" / "welcome" / "email_2" / "subject.txt").write_text(
        "{{ customer.nickname }}", encoding="utf-8"
    )
    monkeypatch.setattr(validate, "Templates", lambda path=root: Templates(path))
    with pytest.raises(ConfigError) as raised:
        load_chain(CHAINS_DIR / "welcome.yaml", check_templates=True)
    message = str(raised.value)
    assert "welcome.yaml" in message
    assert "ru/welcome/email_2" in message
    assert "nickname" in message
    assert load_chain(CHAINS_DIR / "win_back.yaml", check_templates=True).id == "win_back"
