-- Changes of execution records, tailed by every replica. Mirrors migrations/mysql/0019.
CREATE TABLE execution_change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id INTEGER NOT NULL,
    created INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX idx_execution_change_at ON execution_change (changed_at);
