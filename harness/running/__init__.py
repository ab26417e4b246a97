"""Running an experiment: options, the plan and its budget, the pipeline, probing, recording, sessions that start, resume and cancel runs."""
