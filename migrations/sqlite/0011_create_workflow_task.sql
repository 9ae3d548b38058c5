-- Tasks of each workflow. Mirrors migrations/mysql/0011.
CREATE TABLE workflow_task (
    workflow_id INTEGER NOT NULL REFERENCES workflow (id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL UNIQUE REFERENCES data_task (id) ON DELETE CASCADE,
    x INTEGER NULL,
    y INTEGER NULL,
    PRIMARY KEY (workflow_id, task_id)
);
