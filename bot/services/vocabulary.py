"""The words of the domain, in one place: signal kinds (and the aliases people type for them),
systemic patterns, impact levels, the statuses that count as open or closed, and the one rule
for coarse times."""

from __future__ import annotations

from datetime import datetime

from models import SignalStatus as S

KINDS: dict[str, str] = {
    "drift": "Model drift",
    "bias": "Bias / fairness",
    "edge-case": "Edge case",
    "data-quality": "Data quality",
    "problem-fit": "Problem fit",
    "adoption": "Adoption",
    "governance": "Governance",
    "other": "Other",
}

KIND_DESCRIPTIONS: dict[str, str] = {
    "drift": "performance or inputs moving away from what the model was built for",
    "bias": "unfair or skewed outcomes for some group",
    "edge-case": "an input or situation the system handles badly",
    "data-quality": "missing, stale, mislabelled or leaking data",
    "problem-fit": "the AI is solving the wrong or an unclear problem",
    "adoption": "the people who should use it don't, or work around it",
    "governance": "explainability, compliance, accountability",
    "other": "anything else worth raising",
}

_ALIASES: dict[str, str] = {
    "drifting": "drift",
    "decay": "drift",
    "fairness": "bias",
    "unfair": "bias",
    "biased": "bias",
    "edge": "edge-case",
    "edgecase": "edge-case",
    "edge_case": "edge-case",
    "corner": "edge-case",
    "corner-case": "edge-case",
    "data": "data-quality",
    "dataquality": "data-quality",
    "data_quality": "data-quality",
    "quality": "data-quality",
    "dq": "data-quality",
    "fit": "problem-fit",
    "problem": "problem-fit",
    "problemfit": "problem-fit",
    "problem_fit": "problem-fit",
    "usage": "adoption",
    "workaround": "adoption",
    "gov": "governance",
    "compliance": "governance",
    "explainability": "governance",
    "accountability": "governance",
    "misc": "other",
}


def parse_kind(word: str) -> str | None:
    """The canonical kind for `word` (case-insensitive, aliases allowed), else None."""
    key = word.strip().lower()
    if key in KINDS:
        return key
    return _ALIASES.get(key)


def kinds_sentence() -> str:
    return ", ".join(f"`{kind}`" for kind in KINDS)


PATTERNS: dict[str, str] = {
    "problem-misidentification": "Problem misidentification",
    "data-optimism": "Data optimism",
    "organizational-disconnect": "Organizational disconnect",
    "governance-lag": "Governance lag",
    "none": "None / one-off",
}
IMPACTS: dict[str, str] = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}

OPEN_STATUSES = (S.NEW.value, S.ACKNOWLEDGED.value, S.INVESTIGATING.value)
CLOSED_STATUSES = (S.RESOLVED.value, S.DECLINED.value)
# Open and taken up by a lead, but not moving: what the digest calls stalled.
STALLED_STATUSES = (S.ACKNOWLEDGED.value, S.INVESTIGATING.value)


def to_the_hour(moment: datetime) -> datetime:
    """`moment` rounded down to its hour: the only time stored next to anything anonymous, so a
    row cannot date the anonymous signal or reply written with it."""
    return moment.replace(minute=0, second=0, microsecond=0)


# Where an AI system on record stands.
STAGES: dict[str, str] = {
    "idea": "Idea",
    "pilot": "Pilot",
    "production": "Production",
    "retired": "Retired",
}


def system_key(name: str) -> str:
    """How system names and aliases compare: case and spacing folded (`Fraud  Model` and
    `fraud model` are one name)."""
    return " ".join(name.split()).casefold()
