"""The human text of findings: a title per rule and a sentence, translatable.

A finding's `message` is one English sentence from the analyzer (with its figures), and
its rule id, device, evidence keys and JSON stay English for machines. In English the
report shows the analyzer's message itself. In another language it shows the rule's
translated title and a sentence built from the finding's evidence (`reports.sentences`);
where the evidence lacks a figure that sentence needs, the rule's translated action
instead (the figures table beside it carries the numbers). Rules this table does not
know (a newer analyzer) show the message as it came, marked as English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.i18n import N_, Language
from reports.sentences import finding_sentence

RULES: dict[str, tuple[str, str]] = {
    "IDLE_HOST": (N_("Idle host"), N_("Shut it down or reclaim it.")),
    "UNDER_PROVISIONED_CPU": (
        N_("CPU capacity too small"),
        N_("Add capacity or spread the load: under 20 % headroom is left."),
    ),
    "OVER_PROVISIONED_CPU": (
        N_("More CPU cores than the load needs"),
        N_("Right-size the host to the number of cores shown in the recommendation."),
    ),
    "OVER_PROVISIONED_MEM": (
        N_("More memory than the load needs"),
        N_("Reduce the memory to the size shown in the recommendation."),
    ),
    "IDLE_GPU": (N_("Idle GPU"), N_("Release the GPU or switch it to a low-power state.")),
    "ALLOCATED_IDLE_GPU": (
        N_("GPU allocated but idle"),
        N_("Free the GPU from the job that holds it without using it."),
    ),
    "UNDERUSED_GPU": (
        N_("Underused GPU"),
        N_("Batch more work onto it or move the job to a smaller GPU."),
    ),
    "MIG_OR_SHARE_CANDIDATE": (
        N_("GPU could be shared"),
        N_("A MIG slice or a shared GPU would serve this work."),
    ),
    "POOR_PROPORTIONALITY": (
        N_("Poor energy proportionality"),
        N_("Power falls little with load: consolidate work or use power capping."),
    ),
    "LOW_EFFICIENCY_HOST": (
        N_("Low efficiency at the observed load"),
        N_("Consolidate work to run the host busier, or power-cap it."),
    ),
    "BETTER_PLACEMENT": (
        N_("Better placement available"),
        N_("Run the workload on the device that does more work per joule."),
    ),
    "CONSOLIDATE_HOSTS": (
        N_("Hosts can be consolidated"),
        N_("Move the load onto fewer similar hosts and free the rest."),
    ),
    "FLEET_IDLE_ENERGY": (
        N_("Energy drawn while idle"),
        N_("See the idle-host and consolidation findings for what to switch off."),
    ),
    "PEAK_SIZED_HOST": (
        N_("Capacity sized for a short peak"),
        N_("Power it down outside its busy windows (the schedule shown), or move their job."),
    ),
    "OFF_HOURS_IDLE": (
        N_("Idle nights and weekends"),
        N_("Suspend or shut it down outside working hours (the schedule shown)."),
    ),
    "PEAK_SIZED_GPU": (
        N_("GPU sized for a short peak"),
        N_("Release the GPU, or share it by MIG or time-slicing, outside its busy windows."),
    ),
    "COMPLEMENTARY_PEAKS": (
        N_("Peaks that do not coincide"),
        N_("Pool these hosts: sized on their summed demand they need fewer machines."),
    ),
    "INSUFFICIENT_DATA": (
        N_("Not enough data"),
        N_("Record for longer before acting: the figures shown are indicative only."),
    ),
    "STATED_FIGURES_DISAGREE": (
        N_("Stated figures disagree with the samples"),
        N_("Check how the run's document was produced: the report uses the samples' figures."),
    ),
    "SHIFT_WINDOW": (
        N_("Batch could run in cleaner hours"),
        N_("Start it later, within its stated deadline, at the time the recommendation shows."),
    ),
}


@dataclass(frozen=True)
class FindingText:
    """What a report shows for one finding.

    Attributes:
        title: the rule's title in the report's language.
        text: the analyzer's sentence (English), the sentence built from the evidence, or
            (evidence lacking a figure) the rule's translated action.
        english: True when `text` is the analyzer's English sentence in a report in
            another language (a rule this table does not know): mark it `lang="en"`.
    """

    title: str
    text: str
    english: bool = False


def finding_text(finding: dict[str, Any], lang: Language) -> FindingText:
    """Return the title and text a report shows for a finding (docs/design.md#findings)."""
    rule = str(finding.get("rule", ""))
    message = str(finding.get("message", ""))
    known = RULES.get(rule)
    title = lang.gettext(known[0]) if known else rule
    if lang.tag == "en":
        return FindingText(title, message)
    if known is None:
        return FindingText(title, message, english=True)
    sentence = finding_sentence(finding, lang)
    return FindingText(title, sentence if sentence is not None else lang.gettext(known[1]))


VOCABULARY = (
    # run kinds and statuses, device kinds and statuses
    N_("profile"), N_("monitor"), N_("scheduled"), N_("job"),
    N_("running"), N_("complete"), N_("interrupted"), N_("failed"),
    N_("host"), N_("cpu"), N_("dram"), N_("gpu"), N_("ok"), N_("degraded"), N_("lost"),
    # confidence tiers and phase states
    N_("high"), N_("medium"), N_("low"), N_("valid"), N_("invalid"), N_("disturbed"),
    # reports.numbers.ABOVE_TARGET and duration units
    N_("above target"), N_("s"), N_("min"), N_("h"), N_("days"), N_("n/a"),
)  # fmt: skip
"""Words the reports translate at run time (values of records), marked for the catalogue."""
