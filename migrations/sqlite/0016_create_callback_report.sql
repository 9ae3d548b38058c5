-- Execution reports awaiting application. Mirrors migrations/mysql/0016.
CREATE TABLE callback_report (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
