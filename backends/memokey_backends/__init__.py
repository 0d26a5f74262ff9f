"""memokey storage layer: one fsspec-backed Store for every URL."""
