"""memokey: memoize pure-ish functions into any fsspec URL."""
