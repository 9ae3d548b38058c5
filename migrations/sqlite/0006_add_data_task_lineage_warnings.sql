-- Mirrors migrations/mysql/0006.
ALTER TABLE data_task ADD COLUMN lineage_warnings TEXT NULL;
