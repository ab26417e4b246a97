"""Running an experiment: its options and plan, the run directory's lifecycle, training, the pipeline, recording and replay, and the sessions that start, resume and cancel runs."""
