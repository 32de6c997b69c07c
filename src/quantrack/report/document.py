"""The public Report: what ``compare()`` and ``quantrack run`` return, and how it saves itself.

The fields live in :class:`quantrack.core.results.ReportData`, which the writers read;
``save`` is added here, above both, so results and writers never import each other.
"""

from __future__ import annotations

from pathlib import Path

from quantrack.core.results import ReportData


class Report(ReportData):
    """report.champion, report.variants, report.to_dict() (the report.json form), report.save(folder)."""

    def save(self, folder: str | Path, plots=None) -> list[Path]:
        """Write report.json, report.md, report.html and the plots into ``folder``; return the paths.
        ``plots``: figures already drawn under ``folder/plots`` (report.plot_worker); None draws them."""
        from quantrack.report.writers import write_all

        return write_all(self, Path(folder), plots=plots)
