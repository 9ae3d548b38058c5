-- Workflows: named sets of batch tasks, each published as one DolphinScheduler workflow
-- definition. The publish_* and lease_* columns make a publish request durable: it is written
-- here first and carried out by whichever replica claims the row (see app::publisher).
CREATE TABLE workflow (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    description TEXT NOT NULL,
    owner VARCHAR(128) NOT NULL,
    -- 5-field unix cron; empty when it only runs when started
    schedule VARCHAR(128) NOT NULL,
    schedule_timezone VARCHAR(64) NOT NULL,
    -- yyyy-MM-dd HH:mm:ss in schedule_timezone
    schedule_start VARCHAR(19) NOT NULL,
    schedule_end VARCHAR(19) NOT NULL,
    -- 1 when DolphinScheduler should hold it ONLINE
    online INT NOT NULL,
    -- JSON object of global parameters
    global_params TEXT NOT NULL,
    -- 1 when its dependencies were given by the caller rather than read from lineage
    explicit_dependencies INT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ds_workflow_code BIGINT NULL,
    ds_schedule_id BIGINT NULL,
    -- UNPUBLISHED, PENDING, PUBLISHING, PUBLISHED or FAILED
    publish_state VARCHAR(16) NOT NULL,
    -- bumped by every publish request; published_generation is the last one carried out
    publish_generation BIGINT NOT NULL,
    published_generation BIGINT NOT NULL,
    publish_attempts INT NOT NULL,
    publish_error TEXT NOT NULL,
    -- epoch millis before which no worker retries it
    publish_next_at BIGINT NOT NULL,
    -- the replica carrying it out, until lease_until (epoch millis)
    lease_owner VARCHAR(64) NOT NULL,
    lease_until BIGINT NOT NULL,
    -- 1 when the pending request starts the workflow once published
    start_requested INT NOT NULL,
    last_instance_id BIGINT NULL,
    published_at BIGINT NULL,
    UNIQUE KEY uk_workflow_name (name),
    KEY idx_workflow_publish (publish_state, publish_next_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
