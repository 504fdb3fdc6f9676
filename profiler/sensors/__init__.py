"""Sensor families (one module each) and the probing factory (`probe.py`)."""
