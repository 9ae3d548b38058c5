-- The tasks of each workflow; a task belongs to at most one (the unique key), and leaves its
-- workflow when deleted. x and y are the caller's layout, NULL when computed at publish.
CREATE TABLE workflow_task (
    workflow_id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    x INT NULL,
    y INT NULL,
    PRIMARY KEY (workflow_id, task_id),
    UNIQUE KEY uk_workflow_task_task (task_id),
    CONSTRAINT fk_workflow_task_workflow FOREIGN KEY (workflow_id) REFERENCES workflow (id) ON DELETE CASCADE,
    CONSTRAINT fk_workflow_task_task FOREIGN KEY (task_id) REFERENCES data_task (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
