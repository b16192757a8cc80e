# Fingerprints, batches, votes and releases arrive with the batch issue.
