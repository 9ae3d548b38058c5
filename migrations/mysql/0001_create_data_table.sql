-- Tables registered in the portal: one row per warehouse dataset.
CREATE TABLE data_table (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- unique, `table` or `database.table`, lowercase
    name VARCHAR(128) NOT NULL,
    database_name VARCHAR(64) NOT NULL,
    -- ODS, DWD, DIM, DWS or ADS
    layer VARCHAR(8) NOT NULL,
    owner VARCHAR(128) NOT NULL,
    description TEXT NOT NULL,
    -- ACTIVE or DEPRECATED
    status VARCHAR(16) NOT NULL,
    -- optimistic concurrency: bumped on every change, shown to callers as the etag
    version BIGINT NOT NULL,
    -- epoch milliseconds, UTC
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY uk_data_table_name (name),
    KEY idx_data_table_layer (layer),
    KEY idx_data_table_owner (owner),
    KEY idx_data_table_database (database_name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
