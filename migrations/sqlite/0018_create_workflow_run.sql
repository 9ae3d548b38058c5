-- Workflow instances the poller follows. Mirrors migrations/mysql/0018.
CREATE TABLE workflow_run (
    workflow_instance_id INTEGER NOT NULL PRIMARY KEY,
    workflow_id INTEGER NULL,
    project_code INTEGER NOT NULL,
    state TEXT NOT NULL,
    finished INTEGER NOT NULL,
    hinted INTEGER NOT NULL,
    idle_polls INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    next_poll_at INTEGER NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_workflow_run_due ON workflow_run (finished, next_poll_at);
