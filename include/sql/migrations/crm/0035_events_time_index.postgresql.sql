-- Migration crm/0035 (PostgreSQL only): a BRIN index on the events' time. The daily scores read the last
-- 90 days of events (scores/churn_features_events.sql), and no other index leads with the time: PostgreSQL
-- read them through events_customer_ts_idx, in customer order, fetching rows from all over the table. Events
-- are appended about in time order, so each range of pages holds a narrow span of time and a BRIN index of a
-- few hundred kilobytes finds the window's pages; it costs the hourly ingest next to nothing to keep.
CREATE INDEX IF NOT EXISTS events_ts_brin ON crm.events USING brin (ts);
