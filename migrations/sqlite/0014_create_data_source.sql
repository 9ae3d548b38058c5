-- Warehouse connections. Mirrors migrations/mysql/0014.
CREATE TABLE data_source (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    password_sealed TEXT NOT NULL,
    default_database TEXT NOT NULL,
    options TEXT NOT NULL,
    sync_interval_secs INTEGER NOT NULL,
    sync_databases TEXT NOT NULL,
    sync_table_pattern TEXT NOT NULL,
    sync_next_at INTEGER NOT NULL,
    sync_lease_owner TEXT NOT NULL,
    sync_lease_until INTEGER NOT NULL,
    last_sync_at INTEGER NULL,
    last_sync_report TEXT NOT NULL,
    last_sync_error TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
