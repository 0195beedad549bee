"""Reading finished experiments: tables for pandas, DuckDB and plots."""

from raysearch.results.export import export_parquet, history_table, trials_table

__all__ = ["export_parquet", "history_table", "trials_table"]
