-- Rescues are counted (issue #18): a job whose runs keep stopping their worker process (out of
-- memory, a native crash) is given up after 3 rescues instead of coming back for ever. A graceful
-- release (shutdown) does not count; only the stale rescue does.
ALTER TABLE jobs ADD COLUMN rescues integer NOT NULL DEFAULT 0 CHECK (rescues >= 0);
