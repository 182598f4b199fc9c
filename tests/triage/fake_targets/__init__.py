"""Pure-Python fuzz targets for the minimizer tests (CONTRACTS.md §4 shape)."""
