"""memokey's benchmark suite: pytest-benchmark functions grouped by concern, plus the report.

Run `pytest benchmarks --benchmark-json=benchmarks/results/raw/bench.json` and then
`python -m benchmarks.report benchmarks/results/raw/bench.json benchmarks/results`
(that is what `nox -s bench` does). `MEMOKEY_BENCH_SIZE=smoke` (or `--bench-size=smoke`)
runs the same code on small inputs in seconds.
"""
