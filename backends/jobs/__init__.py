"""Client-driven fine-tuning jobs, shared by every provider whose training loop runs on the
user's machine (local, tinker): the store (files, job folders, events), the runner (a detached
worker per job, lock-based liveness, restart from the last epoch checkpoint, cancel), the
worker (which calls the job's trainer) and the job calls a backend answers the harness with."""
