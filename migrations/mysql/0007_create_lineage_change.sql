-- Change log of the lineage graph: each write of a task or table appends a row in the same
-- transaction, so every replica's in-memory index can apply what others wrote.
CREATE TABLE lineage_change (
    seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- TASK or TABLE
    entity VARCHAR(8) NOT NULL,
    entity_id BIGINT NOT NULL,
    -- epoch milliseconds, UTC
    changed_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
