DROP INDEX IF EXISTS flashcards_user_created_idx;
DROP TABLE IF EXISTS user_settings;
DROP TABLE IF EXISTS card_review_log;
DROP TABLE IF EXISTS card_reviews_state;
