-- The start call a publish request sent. Mirrors migrations/mysql/0020.
ALTER TABLE workflow ADD COLUMN start_marker TEXT NULL;
ALTER TABLE workflow ADD COLUMN start_sent_at INTEGER NULL;
ALTER TABLE workflow ADD COLUMN start_trigger INTEGER NULL;
