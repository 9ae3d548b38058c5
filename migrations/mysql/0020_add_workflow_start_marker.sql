-- The start call a publish request sent, so that a retried attempt, or a replica taking over from
-- one that crashed, finds the run that start made instead of starting another: the marker it
-- carried in startParams and when it was sent (both written before the call; a new start request
-- clears them), and the trigger code DolphinScheduler 3.2 answered.
ALTER TABLE workflow
    ADD COLUMN start_marker VARCHAR(36) NULL,
    ADD COLUMN start_sent_at BIGINT NULL,
    ADD COLUMN start_trigger BIGINT NULL;
