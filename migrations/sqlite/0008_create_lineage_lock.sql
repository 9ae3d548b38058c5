-- Mirrors migrations/mysql/0008 (SQLite's single writer serializes anyway; kept for symmetry).
CREATE TABLE lineage_lock (id INTEGER NOT NULL PRIMARY KEY);
