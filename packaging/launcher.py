"""The bundle's entry point: the same `portwatch` command a pip install gives."""

from portwatch.cli import main

raise SystemExit(main())
