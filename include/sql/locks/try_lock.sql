-- Take one of the project's planning locks for the rest of the transaction, if no other session holds it
-- (PostgreSQL advisory lock; released by the commit or rollback, also when a worker dies).
-- Inputs: none. Outputs: taken (TRUE when this transaction now holds the lock).
-- Parameters: :namespace (the project's lock space), :lock_id (which planning lock).
SELECT PG_TRY_ADVISORY_XACT_LOCK(:namespace, :lock_id) AS taken
