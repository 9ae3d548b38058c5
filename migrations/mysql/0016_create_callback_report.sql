-- Execution reports as they arrived (the generic callback or a DolphinScheduler alert), stored
-- before the sender gets its answer and applied to the execution records by a worker, which
-- deletes each report in the transaction that applies it.
CREATE TABLE callback_report (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- TASK_RUN (the generic shape) or DOLPHIN_ALERT (the instances an alert named)
    kind VARCHAR(16) NOT NULL,
    -- the report as JSON, normalised at receipt
    payload TEXT NOT NULL,
    -- epoch millis
    received_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
