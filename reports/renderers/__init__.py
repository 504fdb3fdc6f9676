"""One renderer per report kind, behind `base.Renderer`: options in, `render(record) -> str`.

`run.RunRenderer` renders a `run.RunReport`, `window.WindowRenderer` a
`window.WindowReport` and `fleet.FleetRenderer` a `fleet.FleetReport`; docs/report.md
says how to add one.
"""
