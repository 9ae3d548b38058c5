-- DolphinScheduler task codes of published nodes. Mirrors migrations/mysql/0013.
CREATE TABLE workflow_task_code (
    workflow_id INTEGER NOT NULL REFERENCES workflow (id) ON DELETE CASCADE,
    node_key TEXT NOT NULL,
    ds_code INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, node_key)
);
