-- Caller-given dependencies. Mirrors migrations/mysql/0012.
CREATE TABLE workflow_dependency (
    workflow_id INTEGER NOT NULL REFERENCES workflow (id) ON DELETE CASCADE,
    upstream_task_id INTEGER NOT NULL REFERENCES data_task (id) ON DELETE CASCADE,
    downstream_task_id INTEGER NOT NULL REFERENCES data_task (id) ON DELETE CASCADE,
    PRIMARY KEY (workflow_id, upstream_task_id, downstream_task_id)
);
