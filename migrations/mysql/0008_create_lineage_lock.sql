-- One row that writers of task links lock (SELECT ... FOR UPDATE), so that two writes on
-- different replicas cannot each pass the cycle check and close a cycle together.
CREATE TABLE lineage_lock (
    id INT NOT NULL PRIMARY KEY
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
