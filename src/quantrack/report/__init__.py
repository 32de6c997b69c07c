"""Report: report.json, report.md, report.html and the plots (drawn in a child process when it helps)."""
