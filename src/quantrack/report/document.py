"""The public Report: what ``compare()`` and ``quantrack run`` return, and how it saves itself.

The fields live in :class:`quantrack.evaluate.results.ReportData`, which the writers read;
``save`` is added here, above both, so results and writers never import each other.
"""

from __future__ import annotations

from pathlib import Path

from quantrack.evaluate.results import ReportData


class Report(ReportData):
    """report.champion, report.variants, report.to_dict() (the report.json form), report.save(folder)."""

    def save(self, folder: str | Path) -> list[Path]:
        """Write report.json, report.md, report.html and the plots into ``folder``; return the paths."""
        from quantrack.report.writers import write_all

        return write_all(self, Path(folder))
