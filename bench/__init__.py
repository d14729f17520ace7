"""Load benchmarks: `python -m bench.run` (see bench/README.md).

Modules: `load` (wrk and the fallback client), `servers` (the uvicorn processes under test),
`fixtures` (the run's database, Redis keys and seeded data), `scenarios` (what is measured, in
interleaved rounds), `report` (merged results, ratios, targets, results.json, the table), `run` (the
command line). `profile` and `protocol_cost` are tools of their own built on the same modules.
"""


class BenchError(Exception):
    """The harness itself could not run (not a slow or failing service)."""
