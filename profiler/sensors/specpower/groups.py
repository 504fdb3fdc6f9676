"""A CPU model name's groups, most specific first: exact model, generation, family, vendor.

Generations (microarchitectures) follow the vendors' numbering: Xeon Scalable's second
digit (1 Skylake, 2 Cascade Lake, 3 Ice Lake or, with an H suffix, Cooper Lake, 4
Sapphire Rapids, 5 Emerald Rapids), Xeon E3/E5/E7's `vN` suffix, Xeon E-2xxx's second
digit, the older four-digit Xeons' first two digits, EPYC's last digit (1 Naples ... 5
Turin) and Opteron's first two. A name without a model number ("Intel Xeon Processor",
"AMD EPYC", as many VMs report) has only its family and vendor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("model", "generation", "family", "vendor", "all")
"""Group levels from the most specific to the corpus as a whole."""

_NOISE = re.compile(
    r"\((?:r|tm)\)|\(.*?\)|@.*$|\b\d+(?:\.\d+)?\s*ghz\b|\bcpu\b|\bprocessor\b|"
    r"\b(?:dual|quad|six|eight)-core\b|,.*$",
    re.IGNORECASE,
)
_SCALABLE = re.compile(r"\b(platinum|gold|silver|bronze)\s*(\d)(\d)(\d\d)([a-z]*)")
_E357 = re.compile(r"\be([357])-(\d{4})([a-uw-z]*)\s*(?:v(\d))?")
_E2 = re.compile(r"\be-2(\d)(\d\d)([a-z]*)")
_OLD_XEON = re.compile(r"\b([xelw]?)(\d\d)(\d\d)([a-z]*)\b")
_EPYC = re.compile(r"\bepyc\s*(\d{3})(\d)([a-z]*)")
_OPTERON = re.compile(r"\bopteron\s*(\d\d)(\d\d)\s*(he|ee|se)?\b")
_CORE = re.compile(r"\bcore\s*(i\d)-?\s*(\d{3,5}[a-z]*)")

_SCALABLE_GEN = {
    "1": "Skylake",
    "2": "Cascade Lake",
    "3": "Ice Lake",
    "4": "Sapphire Rapids",
    "5": "Emerald Rapids",
}
_E3_GEN = {"": "Sandy Bridge", "2": "Ivy Bridge", "3": "Haswell", "5": "Skylake", "6": "Kaby Lake"}
_E57_GEN = {"": "Sandy Bridge", "2": "Ivy Bridge", "3": "Haswell", "4": "Broadwell"}
_E2_GEN = {"1": "Coffee Lake", "2": "Coffee Lake", "3": "Rocket Lake"}
_OLD_XEON_GEN = {
    "30": "Core",
    "31": "Penryn",
    "32": "Core",
    "33": "Penryn",
    "34": "Nehalem",
    "50": "NetBurst",
    "51": "Core",
    "52": "Penryn",
    "53": "Core",
    "54": "Penryn",
    "55": "Nehalem",
    "56": "Westmere",
    "70": "NetBurst",
    "71": "NetBurst",
    "72": "Core",
    "73": "Core",
    "74": "Penryn",
    "75": "Nehalem",
}
_EPYC_GEN = {"1": "Zen (Naples)", "2": "Zen 2 (Rome)", "3": "Zen 3 (Milan)"}
_EPYC_GEN |= {"4": "Zen 4 (Genoa)", "5": "Zen 5 (Turin)"}
_OPTERON_GEN = {"22": "K8", "82": "K8", "23": "K10", "83": "K10", "24": "K10", "84": "K10"}
_OPTERON_GEN |= {"41": "K10", "61": "K10", "42": "Bulldozer", "62": "Bulldozer"}
_OPTERON_GEN |= {"43": "Piledriver", "63": "Piledriver"}


_VM_GEN = {  # QEMU/KVM CPU model names: "Intel Xeon Processor (Cascadelake)", "AMD EPYC-Rome"
    "sandybridge": "Sandy Bridge",
    "ivybridge": "Ivy Bridge",
    "haswell": "Haswell",
    "broadwell": "Broadwell",
    "skylake": "Skylake",
    "cascadelake": "Cascade Lake",
    "cooperlake": "Cooper Lake",
    "icelake": "Ice Lake",
    "sapphirerapids": "Sapphire Rapids",
    "epyc-rome": "Zen 2 (Rome)",
    "epyc-milan": "Zen 3 (Milan)",
    "epyc-genoa": "Zen 4 (Genoa)",
}
_VM_NAME = re.compile(r"\((\w+)|\b(epyc-\w+)")


def _vm_generation(name: str) -> str | None:
    """Return the generation a QEMU/KVM CPU model name gives, None for another name."""
    for match in _VM_NAME.finditer(name.lower()):
        if (generation := _VM_GEN.get(match.group(1) or match.group(2))) is not None:
            return generation
    return None


@dataclass(frozen=True)
class Group:
    """One group a CPU belongs to.

    Attributes:
        level: one of `LEVELS`.
        key: the group's table key, lower case ("intel xeon e5-2660", "amd epyc").
        label: how reports name it ("Intel Xeon Sandy Bridge").
    """

    level: str
    key: str
    label: str


def _clean(name: str) -> str:
    return " ".join(_NOISE.sub(" ", name.lower()).split())


def _vendor_family(text: str) -> tuple[str | None, str | None]:
    """Return (vendor, family) named or implied by a cleaned name, None where unknown."""
    for family, vendor in (("epyc", "amd"), ("opteron", "amd"), ("xeon", "intel")):
        if family in text:
            return vendor, family
    for family in ("core", "pentium", "atom"):
        if re.search(rf"\b{family}\b", text) and "intel" in text:
            return "intel", family
    if re.search(r"\be[357]-\d{4}|\b[xelw]\d{4}\b|\be-2\d{3}", text):
        return "intel", "xeon"  # "Intel E3-1260L v5", "Intel X3350": Xeons by number
    for vendor in ("intel", "amd", "ampere", "arm"):
        if re.search(rf"\b{vendor}\b", text):
            return vendor, None
    return None, None


def _xeon(text: str) -> tuple[str, str | None] | None:
    """Return (model key, generation) of a Xeon, None without a model number."""
    if m := _SCALABLE.search(text):
        tier, series, gen, rest, suffix = m.groups()
        generation = _SCALABLE_GEN.get(gen)
        if gen == "3" and suffix.startswith("h"):
            generation = "Cooper Lake"
        return f"{tier} {series}{gen}{rest}{suffix}", generation
    if m := _E357.search(text):
        line, number, suffix, version = m.groups()
        table = _E3_GEN if line == "3" else _E57_GEN
        generation = table.get(version or "")
        if line == "7" and not version:
            generation = "Westmere"
        return f"e{line}-{number}{suffix}" + (f" v{version}" if version else ""), generation
    if m := _E2.search(text):
        gen, rest, suffix = m.groups()
        return f"e-2{gen}{rest}{suffix}", _E2_GEN.get(gen)
    if m := _OLD_XEON.search(text):
        prefix, head, tail, suffix = m.groups()
        return f"{prefix}{head}{tail}{suffix}", _OLD_XEON_GEN.get(head)
    return None


def _model(family: str | None, text: str) -> tuple[str, str | None] | None:
    """Return (model key without vendor, generation) for a cleaned name, or None."""
    if family == "xeon":
        found = _xeon(text)
        return None if found is None else (f"xeon {found[0]}", found[1])
    if family == "epyc" and (m := _EPYC.search(text)):
        head, gen, suffix = m.groups()
        return f"epyc {head}{gen}{suffix}", _EPYC_GEN.get(gen)
    if family == "opteron" and (m := _OPTERON.search(text)):
        head, tail, suffix = m.groups()
        return f"opteron {head}{tail}" + (f" {suffix}" if suffix else ""), _OPTERON_GEN.get(head)
    if family == "core" and (m := _CORE.search(text)):
        return f"core {m.group(1)}-{m.group(2)}", None
    return None


def _word(word: str) -> str:
    """Return a model-name word as vendors write it: "E5-2660", "EPYC", "Xeon", "v2"."""
    if word in ("epyc", "he", "ee", "se") or (
        any(c.isdigit() for c in word) and not re.fullmatch(r"v\d", word)
    ):
        return word.upper()
    return word if re.fullmatch(r"v\d", word) else word.title()


def cpu_groups(name: str | None) -> list[Group]:
    """Return the groups of a CPU model name, most specific first, ending with `all`."""
    text = _clean(name or "")
    vendor, family = _vendor_family(text)
    groups: list[Group] = []
    if vendor is not None:
        brand = {"amd": "AMD", "intel": "Intel"}.get(vendor, vendor.title())
        family_label = f"{brand} {_word(family or '')}"
        found = _model(family, text)
        if found is None and family is not None and (vm := _vm_generation(name or "")):
            generation_label = f"{family_label} {vm}"
            groups.append(Group("generation", generation_label.lower(), generation_label))
        if found is not None and family is not None:
            model, generation = found
            label = " ".join(_word(w) for w in model.split())
            groups.append(Group("model", f"{vendor} {model}", f"{brand} {label}"))
            if generation is not None:
                generation_label = f"{family_label} {generation}"
                groups.append(Group("generation", generation_label.lower(), generation_label))
        if family is not None:
            groups.append(Group("family", f"{vendor} {family}", family_label))
        groups.append(Group("vendor", vendor, brand))
    groups.append(Group("all", "all", "all SPECpower results"))
    return groups
