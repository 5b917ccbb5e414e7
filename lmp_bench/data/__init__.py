"""Data: start structures and (later) reference data sets, formats and splits."""
