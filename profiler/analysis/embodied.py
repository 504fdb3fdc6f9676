"""Embodied carbon of a server from its inventory: Boavizta's bottom-up server model; pure.

Provenance `estimated:embodied-boavizta` (docs/methodology.md#carbon). The method and its
constants are those Boavizta documents for its API's server impacts (boaviztapi,
docs/Explanations/devices/server.md and components/*.md; the factors from Green Cloud
Computing, Umweltbundesamt 2021), written out here, not its code:

    server = cpu_units x CPU + ram_units x RAM + ssd_units x SSD + hdd_units x HDD
             + motherboard + psu_units x PSU + assembly + enclosure
    CPU = (core_units x die_size_per_core + 0.491 cm2) x 1.97 kg/cm2 + 9.14 kg
    RAM = capacity / density x 2.20 kg/cm2 + 5.22 kg        (density default 0.625 GB/cm2)
    SSD = capacity / density x 2.20 kg/cm2 + 6.34 kg
    HDD = 31.11 kg; motherboard 66.10 kg; PSU = unit weight (2.99 kg) x 24.3 kg/kg;
    assembly 6.68 kg; enclosure: rack 150 kg, blade 30.90 kg + 880 kg / 16

End of life is not included (as Boavizta says). GPUs have no factor in that model: a GPU
counts only at the per-GPU figure the user gives (a manufacturer's product carbon
footprint), else it is left out and the figure says so. Amortised: total / service life.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PROVENANCE = "estimated:embodied-boavizta"
METHOD = (
    "Boavizta server impact model (boaviztapi docs: devices/server.md, components/*.md; "
    "factors from Green Cloud Computing, Umweltbundesamt 2021); end of life not included"
)

CPU_DIE_OFFSET_CM2 = 0.491
CPU_KG_PER_CM2 = 1.97
CPU_BASE_KG = 9.14
RAM_KG_PER_CM2 = 2.20
RAM_BASE_KG = 5.22
RAM_DENSITY_GB_PER_CM2 = 0.625
SSD_KG_PER_CM2 = 2.20
SSD_BASE_KG = 6.34
HDD_KG = 31.11
MOTHERBOARD_KG = 66.10
PSU_KG_PER_KG = 24.3
PSU_UNIT_KG = 2.99
ASSEMBLY_KG = 6.68
RACK_KG = 150.0
BLADE_KG = 30.90
BLADE_ENCLOSURE_KG = 880.0
BLADES_PER_ENCLOSURE = 16


@dataclass(frozen=True)
class ServerInventory:
    """A server's parts as the embodied model needs them (the user's inventory).

    Attributes:
        cpu_units: CPU sockets filled.
        cpu_cores: physical cores per CPU.
        cpu_die_cm2_per_core: die area per core in cm2 (die size / cores).
        ram_units: memory modules.
        ram_gb: capacity per module, GB.
        ssd_units: SSDs.
        ssd_gb: capacity per SSD, GB.
        ssd_density_gb_per_cm2: GB per cm2 of NAND wafer (the maker's figure).
        hdd_units: hard disks.
        psu_units: power supplies.
        case: `rack` or `blade`.
        gpu_units: GPUs.
        gpu_kg_each: a GPU's embodied kg CO2e as its maker publishes it; None: GPUs left out.
        ram_density_gb_per_cm2: GB per cm2 of DRAM die (Boavizta's default 0.625).
        psu_unit_kg: a power supply's weight (Boavizta's default 2.99 kg).
    """

    cpu_units: int
    cpu_cores: int
    cpu_die_cm2_per_core: float
    ram_units: int
    ram_gb: float
    ssd_units: int = 0
    ssd_gb: float = 0.0
    ssd_density_gb_per_cm2: float | None = None
    hdd_units: int = 0
    psu_units: int = 2
    case: Literal["rack", "blade"] = "rack"
    gpu_units: int = 0
    gpu_kg_each: float | None = None
    ram_density_gb_per_cm2: float = RAM_DENSITY_GB_PER_CM2
    psu_unit_kg: float = PSU_UNIT_KG


@dataclass(frozen=True)
class Embodied:
    """A server's embodied carbon, whole and per year of its service life.

    Attributes:
        total_kg: kg CO2e of manufacture (end of life not included).
        life_years: the service life it is spread over.
        parts_kg: kg CO2e per part (`cpu`, `ram`, `ssd`, `hdd`, `motherboard`, `psu`,
            `assembly`, `enclosure`, `gpu`).
        notes: what the figure leaves out or assumes, one line each.
    """

    total_kg: float
    life_years: float
    parts_kg: dict[str, float]
    notes: tuple[str, ...]

    @property
    def kg_per_year(self) -> float:
        """The embodied carbon amortised linearly over the service life."""
        return self.total_kg / self.life_years

    def as_dict(self) -> dict[str, object]:
        """Return the JSON shape of `metrics.embodied` (docs/design.md#carbon)."""
        return {
            "provenance": PROVENANCE,
            "method": METHOD,
            "total_kg": self.total_kg,
            "life_years": self.life_years,
            "kg_per_year": self.kg_per_year,
            "parts_kg": dict(self.parts_kg),
            "notes": list(self.notes),
        }


def embodied(inventory: ServerInventory, life_years: float) -> Embodied:
    """Return the server's embodied carbon by Boavizta's server model (module docstring)."""
    inv = inventory
    cpu = inv.cpu_units * (
        (inv.cpu_cores * inv.cpu_die_cm2_per_core + CPU_DIE_OFFSET_CM2) * CPU_KG_PER_CM2
        + CPU_BASE_KG
    )
    ram = inv.ram_units * (inv.ram_gb / inv.ram_density_gb_per_cm2 * RAM_KG_PER_CM2 + RAM_BASE_KG)
    notes = []
    ssd = 0.0
    if inv.ssd_units:
        density = inv.ssd_density_gb_per_cm2
        if density is None:
            raise ValueError("ssd_density_gb_per_cm2 is needed for SSDs (the maker's GB/cm2)")
        ssd = inv.ssd_units * (inv.ssd_gb / density * SSD_KG_PER_CM2 + SSD_BASE_KG)
    if inv.case == "rack":
        enclosure = RACK_KG
    else:
        enclosure = BLADE_KG + BLADE_ENCLOSURE_KG / BLADES_PER_ENCLOSURE
    gpu = 0.0
    if inv.gpu_units and inv.gpu_kg_each is None:
        notes.append(
            f"{inv.gpu_units} GPU(s) left out: Boavizta's server model has no GPU factor; "
            "give gpu_kg_each from the maker's product carbon footprint"
        )
    elif inv.gpu_units:
        gpu = inv.gpu_units * float(inv.gpu_kg_each or 0.0)
        notes.append(f"GPUs at {inv.gpu_kg_each:g} kg each, as given (a maker's figure)")
    parts = {
        "cpu": cpu,
        "ram": ram,
        "ssd": ssd,
        "hdd": inv.hdd_units * HDD_KG,
        "motherboard": MOTHERBOARD_KG,
        "psu": inv.psu_units * inv.psu_unit_kg * PSU_KG_PER_KG,
        "assembly": ASSEMBLY_KG,
        "enclosure": enclosure,
        "gpu": gpu,
    }
    notes.append(f"amortised linearly over {life_years:g} years of service")
    return Embodied(sum(parts.values()), life_years, parts, tuple(notes))
