-- Migration crm/0014: how many entrants of each day and arm were actually sent a message of the chain.
--
-- crm.report_holdout_daily.messaged  entrants with at least one sent message of their chain instance
--                                    (crm.send_ledger.instance_id): the treated arm's reach, so a chain whose
--                                    entrants got nothing is not given an incremental figure; in the holdout
--                                    arm it should stay 0 (anything else means the holdout leaked). NULL in
--                                    rows written before this migration (unknown until those days are
--                                    recomputed; the reports then fall back to the chain's sends).

ALTER TABLE crm.report_holdout_daily ADD COLUMN IF NOT EXISTS messaged BIGINT;
