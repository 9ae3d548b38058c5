-- Task definitions. Mirrors migrations/mysql/0003.
CREATE TABLE data_task (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,
    task_type TEXT NOT NULL,
    engine TEXT NOT NULL,
    body_kind TEXT NOT NULL,
    body TEXT NOT NULL,
    datasource TEXT NOT NULL,
    schedule TEXT NOT NULL,
    retries INTEGER NOT NULL,
    retry_interval_secs INTEGER NOT NULL,
    timeout_secs INTEGER NOT NULL,
    priority TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_data_task_owner ON data_task (owner);
