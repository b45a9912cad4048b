"""Image collection: sources, validation, duplicates, exclude lists, manifests, the collector."""
