-- Name the session holding a planning lock after its run (application_name, until the transaction ends),
-- so that a run kept waiting can say which run is active and since when.
-- Inputs: none. Outputs: holder. Parameters: :holder (e.g. 'lifecycle policy run scheduled__2026-03-02').
SELECT SET_CONFIG('application_name', :holder, TRUE) AS holder
