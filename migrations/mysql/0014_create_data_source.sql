-- Warehouse connections (Doris, MySQL: the MySQL protocol) whose table metadata is synced into
-- the registry. The password is stored sealed (encrypted with the service's data source key),
-- so a dump of this table alone does not reveal it.
CREATE TABLE data_source (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    -- DORIS or MYSQL
    kind VARCHAR(16) NOT NULL,
    host VARCHAR(255) NOT NULL,
    port INT NOT NULL,
    user_name VARCHAR(128) NOT NULL,
    -- "v1:" + base64(nonce || ciphertext); empty when no password is set
    password_sealed TEXT NOT NULL,
    default_database VARCHAR(64) NOT NULL,
    -- JSON object of extra connection options
    options TEXT NOT NULL,
    -- periodic sync: seconds between runs (0 = on demand only), which databases (JSON list;
    -- empty = the default database) and which tables (SQL LIKE pattern; empty = all)
    sync_interval_secs BIGINT NOT NULL,
    sync_databases TEXT NOT NULL,
    sync_table_pattern VARCHAR(255) NOT NULL,
    -- when a sync is next due (epoch millis), and who runs it until when (replicas take turns)
    sync_next_at BIGINT NOT NULL,
    sync_lease_owner VARCHAR(64) NOT NULL,
    sync_lease_until BIGINT NOT NULL,
    -- the outcome of the last sync: JSON of its report, or its error
    last_sync_at BIGINT NULL,
    last_sync_report TEXT NOT NULL,
    last_sync_error TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY uk_data_source_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
