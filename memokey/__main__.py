"""`python -m memokey`: the same command line as the `memokey` console script."""

from memokey.cli import main

raise SystemExit(main())
