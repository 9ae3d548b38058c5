-- The tables a task reads (INPUT) and writes (OUTPUT). A table cannot be deleted while
-- a task refers to it (the foreign key restricts), a task's rows go with it (cascade).
CREATE TABLE task_io (
    task_id BIGINT NOT NULL,
    table_id BIGINT NOT NULL,
    -- INPUT or OUTPUT
    direction VARCHAR(8) NOT NULL,
    PRIMARY KEY (task_id, direction, table_id),
    KEY idx_task_io_table (table_id, direction),
    CONSTRAINT fk_task_io_task FOREIGN KEY (task_id) REFERENCES data_task (id) ON DELETE CASCADE,
    CONSTRAINT fk_task_io_table FOREIGN KEY (table_id) REFERENCES data_table (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
