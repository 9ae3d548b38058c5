-- What a sync from a data source knows of a table: where it came from, its size and last change
-- in the warehouse, when it was synced, schema drift not yet acknowledged (JSON list), and
-- whether the warehouse no longer has it (marked, not deleted). The layer widens for UNASSIGNED
-- (a synced table whose name follows no layer convention).
ALTER TABLE data_table
    ADD COLUMN data_source_id BIGINT NULL,
    ADD COLUMN source_rows BIGINT NULL,
    ADD COLUMN source_bytes BIGINT NULL,
    ADD COLUMN source_updated_at VARCHAR(19) NOT NULL DEFAULT '',
    ADD COLUMN synced_at BIGINT NULL,
    ADD COLUMN drift TEXT NULL,
    ADD COLUMN gone_from_source INT NOT NULL DEFAULT 0,
    MODIFY layer VARCHAR(16) NOT NULL;
