-- Store one provider event; a redelivered event (same provider and event id) is ignored.
-- inputs: none; outputs: crm.message_events
-- params: :provider, :provider_event_id, :send_key, :event_type, :recipient, :occurred_at,
--         :received_at, :detail
INSERT INTO crm.message_events (
    provider, provider_event_id, send_key, event_type, recipient, occurred_at, received_at, detail
)
VALUES (
    :provider, :provider_event_id, :send_key, :event_type, :recipient, :occurred_at, :received_at, :detail
)
ON CONFLICT DO NOTHING;
