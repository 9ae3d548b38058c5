INSERT INTO lineage_lock (id) VALUES (1);
