-- Columns of registered tables. Mirrors migrations/mysql/0002.
CREATE TABLE data_field (
    table_id INTEGER NOT NULL REFERENCES data_table (id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    name TEXT NOT NULL,
    data_type TEXT NOT NULL,
    field_comment TEXT NOT NULL,
    nullable INTEGER NOT NULL,
    primary_key INTEGER NOT NULL,
    PRIMARY KEY (table_id, ordinal),
    UNIQUE (table_id, name)
);
