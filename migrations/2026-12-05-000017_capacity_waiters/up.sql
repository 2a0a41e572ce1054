-- Waiters for provider capacity come back when it frees early (issue #22): a run that finds no
-- capacity gives its job back due when the window's oldest reservations leave it, reckoned
-- with the in-flight calls' estimates (prompt plus the whole output budget, often several
-- times what the call uses). When the call's reported usage corrects a reservation downward,
-- the tokens it frees are there at once: the correction makes the first waiter of that
-- provider (in claim order) due now. `waits_for` is the provider key a pending job waits for;
-- set by the wait (the store's DEFER), cleared by the next claim, so a later backoff is never
-- cut short.
ALTER TABLE jobs ADD COLUMN waits_for text;
CREATE INDEX jobs_waiting_idx ON jobs (waits_for, priority DESC, greatest(run_at, fair_at), id)
    WHERE status = 'pending' AND waits_for IS NOT NULL;
