"""Pure analysis over stored runs: summaries, statistics, efficiency and findings."""
