"""Looking at a search: figures of its trials and one self-contained HTML report."""

from raysearch.report.build import Report, make_report

__all__ = ["Report", "make_report"]
