-- Migration crm/0022: the stage tables dispatch no longer uses.
--
-- crm.delivery_outcome_stage and crm.delivery_gate_stage carried a request's outcomes and a wave's
-- send-time verdicts to the ledger; both now go as arrays in one UPDATE each (delivery/apply_outcomes.sql,
-- delivery/apply_gate.sql). They only ever held rows inside a dispatch transaction, so nothing is lost.
-- crm.delivery_render_stage stays: the context queries of a claim read their ids from it.

DROP TABLE IF EXISTS crm.delivery_outcome_stage;
DROP TABLE IF EXISTS crm.delivery_gate_stage;
