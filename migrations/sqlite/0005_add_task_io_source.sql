-- Mirrors migrations/mysql/0005.
ALTER TABLE task_io ADD COLUMN source TEXT NOT NULL DEFAULT 'DECLARED';
