"""I/O-free records and vocabulary every layer shares: the bottom of the import graph.

`units` (exact constants, ISO-8601 time), `provenance` (measured or estimated),
`device`, `samples` (a tick's readings and the columnar series the analyzer reads),
`run` (runs and phases, `RunKind`, `RunStatus`), `plan` (what a profiling run does),
`findings` and `savings` (the analyzer's output: `Finding`, `Savings`, `Site`),
`attribution_rows`, `errors` (the one exception root) and `durations`. Nothing here
reads a file, a sensor, a clock or a database; it imports numpy and the standard
library only.
"""
