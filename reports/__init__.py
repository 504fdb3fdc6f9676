"""HTML efficiency reports: records and figures in, one self-contained HTML page out.

Reports take data (`reports.data.ReportData`, an `Assessment`, a `Trend`, a fleet
findings document) and never open the database or sample; `profiler.workflows.report`
reads the store and calls them. Each kind's page comes from one `reports.renderers`
renderer: `render(record) -> str`.
"""
