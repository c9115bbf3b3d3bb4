"""The UniAV network."""
