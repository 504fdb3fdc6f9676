"""HTML efficiency reports: records and figures in, one self-contained HTML page out.

Reports take data (`reports.data.ReportData`, an `Assessment`, a `Trend`, a fleet
findings document) and never open the database or sample; `profiler.workflows.report`
reads the store and calls them.
"""
