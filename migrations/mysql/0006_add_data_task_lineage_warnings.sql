-- What the service noticed about the task's lineage when it was last written (SQL that
-- disagrees with the declared tables, layer order, SQL it could not parse): one finding per
-- line, `KIND<TAB>table<TAB>message`. NULL when there is nothing to say.
ALTER TABLE data_task ADD COLUMN lineage_warnings TEXT NULL;
