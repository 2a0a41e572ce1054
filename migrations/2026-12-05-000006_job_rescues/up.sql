-- Rescues are counted (issue #18): a job whose runs keep stopping their worker process (out of
-- memory, a native crash) is given up after 3 rescues instead of coming back for ever. A graceful
-- release (shutdown) does not count; only the stale rescue does.
--
-- Safe while other instances run: a column with a constant default is a catalogue change (no
-- table rewrite), and the CHECK is added NOT VALID (no scan under the ALTER's exclusive lock);
-- it holds for every row written from now on, and every existing row has the default 0.
ALTER TABLE jobs ADD COLUMN rescues integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD CONSTRAINT jobs_rescues_check CHECK (rescues >= 0) NOT VALID;
