"""The HTML comparison report: `phenbench report --store results.h5 --out DIR` (see docs/report.md)."""

from phenbench.report.build import ReportOptions, build_report, render_report

__all__ = ["ReportOptions", "build_report", "render_report"]
