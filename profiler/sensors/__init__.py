"""Sensor families (a folder each for `nvml`, `rapl`, `bmc`; one module for the others).

`probe.py` is the probing factory that calls each folder's own (`get_gpus`, `get_rapl`,
`get_bmc`).
"""
