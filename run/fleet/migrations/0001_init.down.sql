DROP TABLE syncbox.checkpoints;
DROP TABLE syncbox.run_locks;
DROP TABLE syncbox.runs;
