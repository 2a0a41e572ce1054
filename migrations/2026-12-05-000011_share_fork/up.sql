-- Sharing and forking plans (issue #21).
--
-- `visibility`: `private` (the owner only, as before) or `public` (its content readable by anyone
-- through the public view). `origin`: where the content came from, `ai` (generated; every plan
-- so far), `template` (copied from another plan by a fork) or `manual` (given by the client).
-- `forked_from`: the plan a fork copied, kept as a plain id (no foreign key: the source belongs
-- to another user, who may delete it; the id then names nothing).
ALTER TABLE plans
    ADD COLUMN visibility text NOT NULL DEFAULT 'private'
        CONSTRAINT plans_visibility CHECK (visibility IN ('private', 'public')),
    ADD COLUMN origin text NOT NULL DEFAULT 'ai'
        CONSTRAINT plans_origin CHECK (origin IN ('ai', 'template', 'manual')),
    ADD COLUMN forked_from uuid;

-- The public view reads in a scope of its own: a transaction that sets `syllabus.scope` to
-- `public` (and no user) sees the plans whose visibility is public, their modules and their
-- tasks, and nothing else: no other plan, no progress, attempt, job, card or user row (those
-- tables keep their owner-only policies). SELECT only: the scope can change nothing. The owner's
-- own requests never run in this scope, so a public plan of someone else stays invisible to
-- every owner-only endpoint.
CREATE FUNCTION syllabus_public_scope() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT current_setting('syllabus.scope', true) = 'public' $$;

CREATE POLICY plans_public_read ON plans FOR SELECT
    USING (syllabus_public_scope() AND visibility = 'public');
CREATE POLICY modules_public_read ON modules FOR SELECT
    USING (syllabus_public_scope()
           AND EXISTS (SELECT 1 FROM plans p WHERE p.id = modules.plan_id AND p.visibility = 'public'));
CREATE POLICY tasks_public_read ON tasks FOR SELECT
    USING (syllabus_public_scope()
           AND EXISTS (SELECT 1 FROM modules m JOIN plans p ON p.id = m.plan_id
                       WHERE m.id = tasks.module_id AND p.visibility = 'public'));
