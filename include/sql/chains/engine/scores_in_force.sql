-- The daily scores an hourly run times its entries by: the newest scored date before the run's day, and the
-- moment from which orders may be missing from those scores (crm.score_runs.unscored_from; the earliest of
-- the date's runs; the beginning of time for scores recorded without it). No row: no scores yet.
-- Inputs: crm.score_runs. Output: as_of, unscored_from. Parameters: :as_of (the run's moment).
SELECT
    r.as_of,
    MIN(COALESCE(r.unscored_from, TIMESTAMP '1900-01-01 00:00:00')) AS unscored_from
FROM crm.score_runs AS r
WHERE
    r.as_of = (
        SELECT MAX(l.as_of) FROM crm.score_runs AS l
        WHERE l.as_of < CAST(:as_of AS DATE)
    )
GROUP BY r.as_of
