DROP TRIGGER task_progress_notify ON task_progress;
DROP FUNCTION syllabus_notify_progress();
DROP TABLE task_progress;
