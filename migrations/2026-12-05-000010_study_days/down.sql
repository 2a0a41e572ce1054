ALTER TABLE plans DROP COLUMN study_days;
