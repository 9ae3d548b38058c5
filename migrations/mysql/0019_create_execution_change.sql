-- Every change of an execution record, in commit order as near as an auto-increment gives it:
-- each replica tails it to stream the changes any replica applied (WatchExecutions). Rows older
-- than an hour are pruned.
CREATE TABLE execution_change (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    execution_id BIGINT NOT NULL,
    -- 1 when the change created the record
    created INT NOT NULL,
    -- epoch millis
    changed_at BIGINT NOT NULL,
    KEY idx_execution_change_at (changed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
