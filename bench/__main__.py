"""`python -m bench`: see bench.suite."""

from bench.suite import main

raise SystemExit(main())
