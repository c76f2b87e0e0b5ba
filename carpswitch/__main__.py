"""Allow ``python -m carpswitch``."""

from carpswitch.cli import main

raise SystemExit(main())
