"""The environment for programs portwatch starts: the one the user had.

A PyInstaller bundle on Linux runs with ``LD_LIBRARY_PATH`` pointing into the
bundle, so that its own copies of Qt and friends load. A browser or file manager
started with that variable loads the bundle's libraries instead of the system's
and breaks ("undefined symbol", "GLIBCXX_... not found"). PyInstaller keeps the
value from before in ``LD_LIBRARY_PATH_ORIG``, or leaves it unset when there was
none, and documents restoring it for child processes:
https://pyinstaller.org/en/stable/runtime-information.html#ld-library-path-libpath-considerations
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Variables PyInstaller's bootloader sets for the bundle, saving the old value in NAME_ORIG.
BUNDLE_VARIABLES = ("LD_LIBRARY_PATH", "LIBPATH")


def user_environment(
    environ: Mapping[str, str] | None = None, *, frozen: bool | None = None
) -> dict[str, str]:
    """``environ`` (default: this process's) as it was before the bundle changed it.

    Outside a bundle it is returned unchanged: there the variables are the user's.
    """
    env = dict(os.environ if environ is None else environ)
    if frozen is None:
        frozen = bool(getattr(sys, "frozen", False))
    if not frozen:
        return env
    for name in BUNDLE_VARIABLES:
        original = env.pop(f"{name}_ORIG", None)
        if original is not None:
            env[name] = original
        else:
            env.pop(name, None)
    return env


def restore_user_environment() -> None:
    """Make this process's environment the user's, for every program it starts later.

    Safe for the running bundle: the dynamic loader read ``LD_LIBRARY_PATH`` when
    the process started and does not look at it again.
    """
    wanted = user_environment()
    for name in [name for name in os.environ if name not in wanted]:
        del os.environ[name]
    os.environ.update(wanted)
