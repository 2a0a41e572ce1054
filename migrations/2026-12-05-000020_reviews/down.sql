DROP TRIGGER IF EXISTS card_reviews_state_marks_card ON card_reviews_state;
DROP FUNCTION IF EXISTS syllabus_mark_card_reviewed();
DROP INDEX IF EXISTS flashcards_plan_new_idx;
DROP INDEX IF EXISTS flashcards_user_new_idx;
ALTER TABLE flashcards DROP COLUMN IF EXISTS reviewed;
DROP TABLE IF EXISTS user_settings;
DROP TABLE IF EXISTS card_review_log;
DROP TABLE IF EXISTS card_reviews_state;
