"""`[embodied]` of config.toml: the server's inventory for embodied carbon (methodology#carbon).

Example (a 2-socket rack server; `[embodied.hosts.NAME]` overrides keys for one host)::

    [embodied]
    life_years = 5
    cpu_units = 2
    cpu_cores = 20
    cpu_die_cm2_per_core = 0.245
    ram_units = 12
    ram_gb = 32
    ssd_units = 2
    ssd_gb = 960
    ssd_density_gb_per_cm2 = 48.5

    [embodied.hosts.risk-07]
    ram_units = 24

The figure is Boavizta's server model (`profiler.analysis.embodied`), provenance
`estimated:embodied-boavizta`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
_Count = Annotated[int, Field(ge=0, le=1024)]
_Positive = Annotated[float, Field(gt=0)]

DEFAULT_LIFE_YEARS = 4.0
"""The service life without `life_years`: a common server refresh cycle (say yours)."""


class _Inventory(BaseModel):
    """The inventory keys, each optional (a host's table overrides the shared one)."""

    model_config = _STRICT

    life_years: Annotated[float, Field(gt=0, le=30)] | None = Field(
        None, description="Service life the embodied carbon is spread over (default 4)."
    )
    cpu_units: _Count | None = Field(None, description="CPU sockets filled.")
    cpu_cores: Annotated[int, Field(ge=1, le=1024)] | None = Field(
        None, description="Physical cores per CPU."
    )
    cpu_die_cm2_per_core: _Positive | None = Field(
        None, description="Die area per core, cm2 (die size / cores)."
    )
    ram_units: _Count | None = Field(None, description="Memory modules.")
    ram_gb: _Positive | None = Field(None, description="GB per memory module.")
    ram_density_gb_per_cm2: _Positive | None = Field(
        None, description="GB per cm2 of DRAM die (Boavizta's default 0.625)."
    )
    ssd_units: _Count | None = Field(None, description="SSDs.")
    ssd_gb: _Positive | None = Field(None, description="GB per SSD.")
    ssd_density_gb_per_cm2: _Positive | None = Field(
        None, description="GB per cm2 of the SSD's NAND (the maker's figure)."
    )
    hdd_units: _Count | None = Field(None, description="Hard disks.")
    psu_units: _Count | None = Field(None, description="Power supplies (default 2).")
    psu_unit_kg: _Positive | None = Field(None, description="kg per power supply (2.99).")
    case: Literal["rack", "blade"] | None = Field(None, description="rack or blade.")
    gpu_units: _Count | None = Field(None, description="GPUs.")
    gpu_kg_each: Annotated[float, Field(ge=0)] | None = Field(
        None, description="A GPU's embodied kg CO2e from its maker's product carbon footprint."
    )


class EmbodiedTable(_Inventory):
    """`[embodied]`: the shared inventory and `[embodied.hosts.NAME]` overrides."""

    model_config = ConfigDict(title="[embodied]")

    hosts: dict[str, _Inventory] = Field(
        default_factory=dict, description="Per-host overrides, by host name."
    )


REQUIRED = ("cpu_units", "cpu_cores", "cpu_die_cm2_per_core", "ram_units", "ram_gb")


def host_inventory(table: dict[str, Any], host: str) -> dict[str, Any] | None:
    """Return the host's inventory keys (shared, then its overrides); None without `[embodied]`.

    Raises:
        ValueError: a key the model needs is missing for this host (the message names it).
    """
    if not table:
        return None
    merged = {k: v for k, v in table.items() if k != "hosts" and v is not None}
    merged.update({k: v for k, v in table.get("hosts", {}).get(host, {}).items() if v is not None})
    missing = [k for k in REQUIRED if k not in merged]
    if merged.get("ssd_units") and "ssd_density_gb_per_cm2" not in merged:
        missing.append("ssd_density_gb_per_cm2")
    if merged.get("ssd_units") and "ssd_gb" not in merged:
        missing.append("ssd_gb")
    if missing:
        raise ValueError(
            f"[embodied] for host {host!r} lacks {', '.join(missing)}; give them "
            "(docs/methodology.md#carbon)"
        )
    return merged
