// The Syllabus web app (work in progress).
