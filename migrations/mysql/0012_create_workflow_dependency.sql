-- Dependencies between tasks of a workflow given by the caller (used instead of lineage when
-- workflow.explicit_dependencies is 1).
CREATE TABLE workflow_dependency (
    workflow_id BIGINT NOT NULL,
    upstream_task_id BIGINT NOT NULL,
    downstream_task_id BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, upstream_task_id, downstream_task_id),
    CONSTRAINT fk_workflow_dependency_workflow FOREIGN KEY (workflow_id) REFERENCES workflow (id) ON DELETE CASCADE,
    CONSTRAINT fk_workflow_dependency_up FOREIGN KEY (upstream_task_id) REFERENCES data_task (id) ON DELETE CASCADE,
    CONSTRAINT fk_workflow_dependency_down FOREIGN KEY (downstream_task_id) REFERENCES data_task (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
