-- The DolphinScheduler task code of each node of a published workflow ("task:<id>" for its
-- tasks, "wait:<id>" for the DEPENDENT task waiting on a task of another workflow), kept so
-- that re-publishing updates the same DolphinScheduler tasks.
CREATE TABLE workflow_task_code (
    workflow_id BIGINT NOT NULL,
    node_key VARCHAR(64) NOT NULL,
    ds_code BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, node_key),
    CONSTRAINT fk_workflow_task_code_workflow FOREIGN KEY (workflow_id) REFERENCES workflow (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
