-- One simulated hour's figures: what it released, ingested, planned and sent, the customers' reactions, and
-- the seconds the pipeline's work took.
-- Inputs: none.
-- Outputs: sim.hours (one row).
-- Parameters: :at (the hour, UTC), :released, :ingested, :due_steps, :planned, :sent, :events, :induced,
--             :prevented (counts), :seconds.
INSERT INTO sim.hours VALUES (
    :at, :released, :ingested, :due_steps, :planned, :sent, :events, :induced, :prevented, :seconds
)
