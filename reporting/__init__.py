"""The report: statistics tables, findings in words, charts and the HTML page."""
