-- Tables registered in the portal. Mirrors migrations/mysql/0001; see the comments there.
CREATE TABLE data_table (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    database_name TEXT NOT NULL,
    layer TEXT NOT NULL,
    owner TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_data_table_layer ON data_table (layer);
CREATE INDEX idx_data_table_owner ON data_table (owner);
CREATE INDEX idx_data_table_database ON data_table (database_name);
