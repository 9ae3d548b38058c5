-- One record per run of a task: per (task, DolphinScheduler workflow instance), or per (task,
-- start time) for generic reports that name no instance. State moves only forward (state_rank).
CREATE TABLE execution (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    task_id BIGINT NOT NULL,
    -- "i<workflow instance id>" or "t<start epoch millis>"
    run_key VARCHAR(40) NOT NULL,
    task_name VARCHAR(128) NOT NULL,
    workflow_id BIGINT NULL,
    workflow_instance_id BIGINT NULL,
    task_instance_id BIGINT NULL,
    task_code BIGINT NULL,
    -- PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED or PAUSED
    state VARCHAR(16) NOT NULL,
    state_rank INT NOT NULL,
    scheduler_state VARCHAR(32) NOT NULL,
    -- epoch millis
    start_time BIGINT NULL,
    end_time BIGINT NULL,
    rows_output BIGINT NULL,
    host VARCHAR(255) NOT NULL,
    log_path VARCHAR(1024) NOT NULL,
    attempt INT NOT NULL,
    -- CALLBACK or POLL
    source VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY uk_execution_run (task_id, run_key),
    KEY idx_execution_task_start (task_id, start_time),
    KEY idx_execution_start (start_time),
    KEY idx_execution_instance (workflow_instance_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
