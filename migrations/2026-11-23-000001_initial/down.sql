DROP TABLE IF EXISTS skill_nodes, skill_trees, distractors, flashcards, generation_attempts, jobs, tasks, modules, plans, users CASCADE;
DROP FUNCTION IF EXISTS syllabus_row_visible(text);
