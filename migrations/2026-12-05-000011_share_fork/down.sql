DROP POLICY tasks_public_read ON tasks;
DROP POLICY modules_public_read ON modules;
DROP POLICY plans_public_read ON plans;
DROP FUNCTION syllabus_public_scope();
ALTER TABLE plans DROP COLUMN forked_from, DROP COLUMN origin, DROP COLUMN visibility;
