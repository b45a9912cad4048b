"""The built-in synthetic worlds: scenes with a known answer, drawn offline and deterministically."""
