"""The oldest macOS the bundle can run on, read from the installed Qt wheels' tags.

A wheel tagged ``macosx_13_0_universal2`` was built for macOS 13 and later; the app
bundle's ``LSMinimumSystemVersion`` must not promise less than the newest such
minimum among the wheels it carries (PySide6 and shiboken6).

    python packaging/wheel_tags.py      prints it (e.g. ``13.0``)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution

QT_DISTRIBUTIONS = ("PySide6-Essentials", "shiboken6")
MACOS_TAG = re.compile(r"-macosx_(\d+)_(\d+)_\w+$")


def macos_minimum_from(wheel_files: Iterable[str]) -> str | None:
    """The highest ``macosx_X_Y`` among the ``Tag:`` lines of WHEEL files, as "X.Y"."""
    found = [
        (int(match.group(1)), int(match.group(2)))
        for text in wheel_files
        for line in text.splitlines()
        if line.startswith("Tag:") and (match := MACOS_TAG.search(line.strip()))
    ]
    if not found:
        return None
    major, minor = max(found)
    return f"{major}.{minor}"


def macos_minimum(distributions: Iterable[str] = QT_DISTRIBUTIONS) -> str | None:
    """The minimum macOS of the Qt wheels installed here; None off macOS wheels."""
    texts = []
    for name in distributions:
        try:
            texts.append(distribution(name).read_text("WHEEL") or "")
        except PackageNotFoundError:
            continue
    return macos_minimum_from(texts)


if __name__ == "__main__":
    minimum = macos_minimum()
    if minimum is None:
        sys.stderr.write("wheel_tags: no macOS Qt wheel is installed here\n")
        raise SystemExit(1)
    print(minimum)
