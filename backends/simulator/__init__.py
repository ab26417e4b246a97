"""An OpenAI-compatible HTTP server that serves the mock (SIMULATED): `server` (the aiohttp app
and its records), `wire` (OpenAI's request and response shapes), `faults` (what it can inject)."""
