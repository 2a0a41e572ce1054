DROP TRIGGER plans_notify_delete ON plans;
DROP FUNCTION syllabus_notify_plan_deleted();
DROP FUNCTION syllabus_publish_preview(text, uuid, integer, integer, jsonb, uuid, uuid);
DROP TABLE plan_previews;
DROP FUNCTION syllabus_notify_preview();
