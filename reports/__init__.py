"""HTML efficiency reports: rendering, templates and charts (reads stored runs, never samples)."""
