"""Bounded reads of the files a user or a setting names: regular files only, size-capped."""
