"""The bundle's entry point: the same `portwatch` command a pip install gives."""

from portwatch.core.child_env import restore_user_environment

# The bootloader pointed LD_LIBRARY_PATH into the bundle; programs the app starts
# (Qt's browser and file-manager openers included) must get the user's own.
restore_user_environment()

from portwatch.entry import main  # noqa: E402  (after the environment is the user's)

raise SystemExit(main())
