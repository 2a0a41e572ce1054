DROP TABLE skill_previews;
DROP FUNCTION syllabus_notify_skill_preview();
