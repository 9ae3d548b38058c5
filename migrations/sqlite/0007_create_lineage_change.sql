-- Mirrors migrations/mysql/0007.
CREATE TABLE lineage_change (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
