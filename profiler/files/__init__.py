"""The files finwatt reads and writes that are not its database, below every layer.

`small_files` (bounded reads of a file a user, a setting or a job names: regular files
only, size-capped), `outputs` (every file the user names for output: atomic replace,
devices written directly, no links followed) and `version` (finwatt's installed version).
"""
