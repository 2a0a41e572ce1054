-- The days of the week a learner studies on (issue #20): the schedule places sessions only on
-- them. A bit set in a smallint, as syllabus_domain::StudyDays::bits() holds it: bit 0 is Monday,
-- bit 6 Sunday; never empty. Existing plans study every day (127), as before.
ALTER TABLE plans ADD COLUMN study_days smallint NOT NULL DEFAULT 127
    CONSTRAINT plans_study_days CHECK (study_days BETWEEN 1 AND 127);
