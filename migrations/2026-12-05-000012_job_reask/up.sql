-- Re-asking content jobs with reasons (issue #21): when a run of a flashcards, distractors or
-- skill-tree job fails as `validation` (the answer broke a domain rule, e.g. cards whose answer
-- is their question), the issues it found are kept on the job, and the job's next run (or a
-- retry of a failed job) tells the model what was wrong. Paths and sentences only, never the
-- model's text. Plan generations keep theirs on their attempts, as before.
ALTER TABLE jobs ADD COLUMN reask jsonb;
