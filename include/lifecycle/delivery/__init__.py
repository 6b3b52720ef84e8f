"""Rendering and delivery of the messages planned in ``crm.send_ledger``.

Business logic only, no Airflow imports: templates (:mod:`.render`, :mod:`.context`), providers as plain
clients (:mod:`.providers`), the ledger state machine (:mod:`.dispatch`), provider feedback
(:mod:`.feedback`, :mod:`.webhooks`) and signed links (:mod:`.signing`). The Airflow hooks in
``lifecycle_providers`` only turn Connections into the clients defined here.
"""
