-- Add one IANA time zone name to the reference list (run for every name Python's tz database knows).
-- Inputs: none. Outputs: crm.ref_timezones. Parameters: :timezone.
INSERT INTO crm.ref_timezones (timezone) VALUES (:timezone)
ON CONFLICT DO NOTHING
