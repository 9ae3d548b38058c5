-- Tables a task reads and writes. Mirrors migrations/mysql/0004.
CREATE TABLE task_io (
    task_id INTEGER NOT NULL REFERENCES data_task (id) ON DELETE CASCADE,
    table_id INTEGER NOT NULL REFERENCES data_table (id),
    direction TEXT NOT NULL,
    PRIMARY KEY (task_id, direction, table_id)
);
CREATE INDEX idx_task_io_table ON task_io (table_id, direction);
