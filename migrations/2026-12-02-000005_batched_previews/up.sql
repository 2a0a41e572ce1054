-- Previews are written in batches by each process (crates/syllabus-store/src/previews.rs, one
-- INSERT for what its runs queued), so the one-preview-per-statement function goes.
DROP FUNCTION syllabus_publish_preview(text, uuid, integer, integer, jsonb, uuid, uuid);
