-- The session that holds a planning lock of this database: its run (application_name), since when its
-- transaction is open, and its server process id.
-- Inputs: pg_locks, pg_stat_activity, pg_database. Outputs: pid, application_name, xact_start.
-- Parameters: :namespace, :lock_id (as given to locks/try_lock.sql).
SELECT
    a.pid,
    a.application_name,
    a.xact_start
FROM pg_locks AS l
INNER JOIN pg_stat_activity AS a ON l.pid = a.pid
WHERE
    l.locktype = 'advisory'
    AND l.granted
    AND l.database = (
        SELECT d.oid FROM pg_database AS d
        WHERE d.datname = CURRENT_DATABASE()
    )
    AND l.classid = CAST(:namespace AS OID)
    AND l.objid = CAST(:lock_id AS OID)
    AND l.objsubid = 2
