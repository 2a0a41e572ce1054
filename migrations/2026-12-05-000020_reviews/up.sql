-- Spaced review of flashcards (issue #24): each learner's FSRS memory state per card, the log of
-- their reviews, and their desired retention.
--
-- The state is the learner's, apart from the generated card (like task_progress): a card that a
-- job writes again keeps its id and so its state; a card that goes takes its state and log with
-- it (ON DELETE CASCADE). A card without a state row has never been reviewed: it is due from its
-- `created_at`. `plan_id` is the card's plan (set by the store from the card): a plan's due list
-- and count read their own index, without a join through flashcards.
CREATE TABLE card_reviews_state (
    flashcard_id    uuid PRIMARY KEY REFERENCES flashcards (id) ON DELETE CASCADE,
    plan_id         uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stability       real NOT NULL CHECK (stability > 0),
    difficulty      real NOT NULL CHECK (difficulty BETWEEN 1 AND 10),
    due_at          timestamptz NOT NULL,
    reps            integer NOT NULL CHECK (reps >= 1),
    lapses          integer NOT NULL CHECK (lapses >= 0 AND lapses < reps),
    last_review_at  timestamptz NOT NULL,
    CONSTRAINT card_reviews_state_due_after_review CHECK (due_at > last_review_at)
);
-- The due list and count: a user's (or a plan's) cards by due date.
CREATE INDEX card_reviews_state_due_idx ON card_reviews_state (user_id, due_at, flashcard_id);
CREATE INDEX card_reviews_state_plan_due_idx ON card_reviews_state (plan_id, due_at, flashcard_id);

-- Every review, with the answer it got: a review sent again with the same client-chosen
-- `review_id` is answered from its row (UNIQUE: it is written once). `due_before` is NULL on a
-- card's first review; `next` holds what each rating would have given from the state before.
CREATE TABLE card_review_log (
    id              uuid PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    flashcard_id    uuid NOT NULL REFERENCES flashcards (id) ON DELETE CASCADE,
    review_id       text CHECK (review_id ~ '^[!-~]{1,100}$'),
    rating          text NOT NULL CHECK (rating IN ('again', 'hard', 'good', 'easy')),
    reviewed_at     timestamptz NOT NULL,
    due_before      timestamptz,
    due_after       timestamptz NOT NULL,
    stability       real NOT NULL,
    difficulty      real NOT NULL,
    interval_days   integer NOT NULL CHECK (interval_days >= 1),
    reps            integer NOT NULL CHECK (reps >= 1),
    lapses          integer NOT NULL CHECK (lapses >= 0),
    next            jsonb NOT NULL,
    CONSTRAINT card_review_log_review_key UNIQUE (user_id, flashcard_id, review_id)
);
CREATE INDEX card_review_log_card_idx ON card_review_log (flashcard_id, reviewed_at);

-- A learner's settings; no row means every default. The bounds are compared as `real`, the
-- column's type (0.97 as a double is below 0.97 as a real).
CREATE TABLE user_settings (
    user_id            text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    desired_retention  real NOT NULL DEFAULT 0.9
        CHECK (desired_retention BETWEEN 0.7::real AND 0.97::real),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The never-reviewed half of the due list: a card's `reviewed` mark, set by the trigger below in
-- the transaction that writes its first review state (whoever writes it), so that the user's
-- (or plan's) never-reviewed cards are an index range of their own, in due order: a page reads
-- about a page of rows, however many of the user's cards were reviewed.
ALTER TABLE flashcards ADD COLUMN reviewed boolean NOT NULL DEFAULT false;
CREATE INDEX flashcards_user_new_idx ON flashcards (user_id, created_at, id) WHERE NOT reviewed;
CREATE INDEX flashcards_plan_new_idx ON flashcards (plan_id, created_at, id) WHERE NOT reviewed;

CREATE FUNCTION syllabus_mark_card_reviewed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        UPDATE flashcards SET reviewed = true WHERE id = NEW.flashcard_id AND NOT reviewed;
        RETURN NULL;
    END
    $$;

CREATE TRIGGER card_reviews_state_marks_card AFTER INSERT ON card_reviews_state
    FOR EACH ROW EXECUTE FUNCTION syllabus_mark_card_reviewed();

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['card_reviews_state', 'card_review_log', 'user_settings']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id))',
            t || '_owner', t);
    END LOOP;
END
$$;
