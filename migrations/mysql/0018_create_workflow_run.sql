-- DolphinScheduler workflow instances the poller follows until they end: those the portal
-- started, those an alert named, and those found running for a published workflow.
CREATE TABLE workflow_run (
    workflow_instance_id BIGINT NOT NULL PRIMARY KEY,
    -- the portal workflow; NULL when the instance belongs to no workflow the portal knows
    workflow_id BIGINT NULL,
    project_code BIGINT NOT NULL,
    -- the DolphinScheduler state last read; empty before the first read
    state VARCHAR(32) NOT NULL,
    -- 1 once the instance ended and its task runs are recorded
    finished INT NOT NULL,
    -- 1 while a callback asked for a confirming read that has not happened yet
    hinted INT NOT NULL,
    -- reads in a row that found nothing new (they space out the next read)
    idle_polls INT NOT NULL,
    -- reads in a row that failed
    failures INT NOT NULL,
    last_error TEXT NOT NULL,
    -- epoch millis
    next_poll_at BIGINT NOT NULL,
    lease_owner VARCHAR(64) NOT NULL,
    lease_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    KEY idx_workflow_run_due (finished, next_poll_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
