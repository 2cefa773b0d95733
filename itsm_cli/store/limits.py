"""The size limit every reader of a desk file applies, kept apart from the YAML loader so that reading a file needs no PyYAML."""

MAX_BYTES = 1_000_000  # the largest record, article or itsm.yaml itsm reads
