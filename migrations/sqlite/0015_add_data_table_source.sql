-- Sync facts of a table. Mirrors migrations/mysql/0015.
ALTER TABLE data_table ADD COLUMN data_source_id INTEGER NULL;
ALTER TABLE data_table ADD COLUMN source_rows INTEGER NULL;
ALTER TABLE data_table ADD COLUMN source_bytes INTEGER NULL;
ALTER TABLE data_table ADD COLUMN source_updated_at TEXT NOT NULL DEFAULT '';
ALTER TABLE data_table ADD COLUMN synced_at INTEGER NULL;
ALTER TABLE data_table ADD COLUMN drift TEXT NULL;
ALTER TABLE data_table ADD COLUMN gone_from_source INTEGER NOT NULL DEFAULT 0;
