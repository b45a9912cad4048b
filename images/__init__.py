"""Images as the model sees them: decoding a file, a folder, a split of the dataset."""
