"""`estimated:specpower-curve`: server power curves derived from published SPECpower results.

`groups` names a CPU's groups (exact model, generation, family, vendor), `table` derives
the shipped per-group curve table from parsed SPECpower_ssj2008 results, `curve` chooses a
host's group and models each package's power from it. docs/estimates.md gives the
sources, licences and the model's measured error.
"""
