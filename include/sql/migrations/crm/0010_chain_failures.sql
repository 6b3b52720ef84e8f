-- Migration crm/0010: the chains that failed in a run, so a broken chain is reported instead of vanishing.
--
-- crm.chain_run_failures  per run and chain that did not finish: the phase that failed (enter, exit, due)
--                         and the error, naming the file and line where it is a file's fault. A later
--                         successful attempt of the same run and chain removes the row. The Run summary tab
--                         lists these chains, and the chains DAG's last task fails the run while any exists.

CREATE TABLE IF NOT EXISTS crm.chain_run_failures (
    run_key VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,
    error VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_key, chain_id)
);
