-- Migration crm/0024: the chains of a run, advanced together.
--
-- A chains run reads each chain's entry query on its own, then advances every chain that read its entries
-- in one go: progress, entries, exits and due steps are one statement each for all of them, not one per
-- chain. crm.chain_run_members carries what those statements need to know of each chain's file (its
-- entry window, restart rule, typical order value and exit settings). Like crm.chain_candidates it is
-- scratch: filled and emptied inside the run's transaction.

CREATE TABLE IF NOT EXISTS crm.chain_run_members (
    run_key VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    as_of TIMESTAMP NOT NULL,
    restart BOOLEAN NOT NULL,
    typical_order_value DOUBLE PRECISION NOT NULL,
    exit_unsubscribed BOOLEAN NOT NULL,
    exit_purchase_of_trigger_product BOOLEAN NOT NULL,
    exit_any_purchase BOOLEAN NOT NULL,
    exit_any_cart BOOLEAN NOT NULL,
    -- comma-separated chain ids; NULL: the exit is off
    exit_entered_chains VARCHAR,
    -- NULL: the exit is off
    exit_max_touches INTEGER,
    -- the run's as-of time less the chain's time limit; NULL: the exit is off
    exit_entered_before TIMESTAMP,
    PRIMARY KEY (run_key, chain_id)
);
