"""Multi-task training: configuration, schedule, EMA, stop-and-go, round-robin sampling, the trainer."""
