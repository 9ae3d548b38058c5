-- Columns of registered tables.
CREATE TABLE data_field (
    table_id BIGINT NOT NULL,
    -- 1-based column position
    ordinal INT NOT NULL,
    name VARCHAR(64) NOT NULL,
    data_type VARCHAR(64) NOT NULL,
    field_comment TEXT NOT NULL,
    -- 0 or 1 (INT rather than BOOLEAN so both backends decode it alike)
    nullable INT NOT NULL,
    primary_key INT NOT NULL,
    PRIMARY KEY (table_id, ordinal),
    UNIQUE KEY uk_data_field_name (table_id, name),
    CONSTRAINT fk_data_field_table FOREIGN KEY (table_id) REFERENCES data_table (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
