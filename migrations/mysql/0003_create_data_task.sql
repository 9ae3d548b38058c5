-- Task definitions.
CREATE TABLE data_task (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    description TEXT NOT NULL,
    owner VARCHAR(128) NOT NULL,
    -- BATCH or STREAM
    task_type VARCHAR(16) NOT NULL,
    -- DOLPHIN or DINKY
    engine VARCHAR(16) NOT NULL,
    -- SQL, SHELL or PYTHON: how to read `body`
    body_kind VARCHAR(16) NOT NULL,
    body MEDIUMTEXT NOT NULL,
    -- data source of a SQL body; empty for the scheduler's default
    datasource VARCHAR(128) NOT NULL,
    -- 5-field unix cron; empty when the task has no schedule
    schedule VARCHAR(128) NOT NULL,
    retries INT NOT NULL,
    retry_interval_secs BIGINT NOT NULL,
    -- 0 means no time limit
    timeout_secs BIGINT NOT NULL,
    priority VARCHAR(16) NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY uk_data_task_name (name),
    KEY idx_data_task_owner (owner)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
