-- Where a task's link to a table comes from: DECLARED by people, inferred from its SQL, or BOTH.
ALTER TABLE task_io ADD COLUMN source VARCHAR(8) NOT NULL DEFAULT 'DECLARED';
