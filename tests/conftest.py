"""Test-wide settings.

Under CI (`CI` set) hypothesis runs derandomized: the same examples every run, so a
submission's CI result does not depend on luck. Developers' runs stay random and find
new cases; a failure prints the `@reproduce_failure` line to pin it.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
