-- Runs of tasks. Mirrors migrations/mysql/0017.
CREATE TABLE execution (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL,
    run_key TEXT NOT NULL,
    task_name TEXT NOT NULL,
    workflow_id INTEGER NULL,
    workflow_instance_id INTEGER NULL,
    task_instance_id INTEGER NULL,
    task_code INTEGER NULL,
    state TEXT NOT NULL,
    state_rank INTEGER NOT NULL,
    scheduler_state TEXT NOT NULL,
    start_time INTEGER NULL,
    end_time INTEGER NULL,
    rows_output INTEGER NULL,
    host TEXT NOT NULL,
    log_path TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (task_id, run_key)
);
CREATE INDEX idx_execution_task_start ON execution (task_id, start_time);
CREATE INDEX idx_execution_start ON execution (start_time);
CREATE INDEX idx_execution_instance ON execution (workflow_instance_id);
