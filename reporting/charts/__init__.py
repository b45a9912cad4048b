"""The report's charts, one module per family; each returns PNG bytes."""
