"""Provider clients: each turns a batch of rendered messages into per-message outcomes.

They know their API's batch size, concurrency, idempotency and error codes; the ledger, retries and
rate limiting live in :mod:`lifecycle.delivery.dispatch`. Secrets are constructor arguments (the Airflow
hooks read them from Connections).
"""
