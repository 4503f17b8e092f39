"""Write the machine-readable (DEP-5) copyright file for a Linux bundle of portwatch.

    python packaging/linux/licences.py BUNDLE_DIR INSTALLED_AS OUT_FILE

BUNDLE_DIR is PyInstaller's dist/portwatch; INSTALLED_AS is where a package puts
it (e.g. usr/lib/portwatch), for the Files: lines. Every component the bundle
carries gets a paragraph with its licence text: portwatch (MIT), Python (PSF),
Qt and PySide6 (LGPL-3.0), ICU, the Python libraries (from their wheels'
licence files) and each system library copied from the build machine (its Debian
package's own copyright file). Run with the Python that built the bundle.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMON = Path("/usr/share/common-licenses")
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib", "/lib")
# Python distributions in the bundle, with the SPDX name of their licence.
WHEELS = {"psutil": "BSD-3-Clause", "platformdirs": "MIT", "jeepney": "MIT"}
QT_FILES = ("PySide6/*", "shiboken6/*", "libQt6*", "libpyside6*", "libshiboken6*")


class LicenceError(Exception):
    pass


def indented(text: str) -> str:
    """A licence text as a DEP-5 continuation: one space in, blank lines as ' .'."""
    lines = text.replace("\t", "    ").rstrip().splitlines()
    return "\n".join(f" {line}" if line.strip() else " ." for line in lines)


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LicenceError(f"licence text {path} cannot be read: {exc.strerror}") from exc


def wheel_licence(name: str) -> str:
    try:
        dist = distribution(name)
    except PackageNotFoundError as exc:
        raise LicenceError(f"{name} is not installed in {sys.executable}") from exc
    for file in dist.files or []:
        lower = file.name.lower()
        if lower.startswith(("license", "licence", "copying")):
            return read(Path(str(file.locate())))
    raise LicenceError(f"{name} {dist.version} ships no licence file")


def python_licence() -> str:
    for folder in (sysconfig.get_paths()["stdlib"], f"{sys.base_prefix}/lib/python3"):
        candidate = Path(folder) / "LICENSE.txt"
        if candidate.is_file():
            return read(candidate)
    doc = Path(f"/usr/share/doc/python{sys.version_info.major}.{sys.version_info.minor}")
    return read(doc / "copyright")


def debian_package(library: str) -> str | None:
    for folder in LIBRARY_DIRS:
        path = Path(folder) / library
        if not path.exists():
            continue
        for candidate in (str(path), str(path.resolve())):
            found = subprocess.run(
                ["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False
            )
            if found.returncode == 0:
                return found.stdout.split(":", 1)[0]
    return None


def paragraphs(bundle: Path, installed_as: str) -> list[str]:
    version = sys.version_info
    internal = f"{installed_as}/_internal"
    out = [
        "Files: *\nCopyright: portwatch developers\nLicense: MIT\n"
        + indented(read(REPO / "LICENSE")),
        "Files: "
        + "\n       ".join(f"{internal}/{pattern}" for pattern in QT_FILES)
        + "\nCopyright: The Qt Company Ltd. and other contributors\n"
        "License: LGPL-3.0-only\n"
        " Qt for Python (PySide6, shiboken6) and the Qt libraries it carries, used\n"
        " under the GNU Lesser General Public License version 3, which follows, with\n"
        " the GNU General Public License version 3 that it extends.\n .\n"
        + indented(read(COMMON / "LGPL-3"))
        + "\n .\n"
        + indented(read(COMMON / "GPL-3")),
        f"Files: {internal}/PySide6/Qt/lib/libicu* {internal}/libicu*\n"
        "Copyright: Unicode, Inc. and others\n"
        "License: Unicode-ICU\n"
        " ICU as carried by the Qt wheel; the licence text is the one Debian ships\n"
        " for its own ICU package (libicu72), the same licence.\n .\n"
        + indented(read(Path("/usr/share/doc/libicu72/copyright"))),
        f"Files: {internal}/libpython* {internal}/base_library.zip {internal}/python*\n"
        f"       {internal}/lib-dynload/*\n"
        f"Copyright: Python Software Foundation (Python {version.major}.{version.minor})\n"
        "License: PSF-2.0\n" + indented(python_licence()),
    ]
    for name, spdx in WHEELS.items():
        folder = name.replace("-", "_")
        out.append(
            f"Files: {internal}/{folder}/*\nCopyright: the {name} authors\nLicense: {spdx}\n"
            + indented(wheel_licence(name))
        )
    # System libraries PyInstaller copied from the build machine, by Debian package.
    by_package: dict[str, list[str]] = {}
    for library in sorted(p.name for p in (bundle / "_internal").glob("lib*.so*")):
        if library.startswith(("libQt6", "libpyside6", "libshiboken6", "libpython", "libicu")):
            continue
        package = debian_package(library)
        if package is None:
            raise LicenceError(f"{library}: no Debian package on this machine ships it")
        by_package.setdefault(package, []).append(library)
    for package, libraries in sorted(by_package.items()):
        copyright_file = Path(f"/usr/share/doc/{package}/copyright")
        if not copyright_file.is_file():
            # Multi-arch packages keep it under the name without the arch suffix.
            copyright_file = Path(f"/usr/share/doc/{package.split(':')[0]}/copyright")
        out.append(
            "Files: "
            + "\n       ".join(f"{internal}/{library}" for library in libraries)
            + f"\nCopyright: see below (from the Debian package {package})\n"
            f"License: {package}-licence\n"
            f" The copyright file of the Debian package {package}, verbatim:\n .\n"
            + indented(read(copyright_file))
        )
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: licences.py BUNDLE_DIR INSTALLED_AS OUT_FILE\n")
        return 2
    bundle, installed_as, out = Path(argv[0]), argv[1].strip("/"), Path(argv[2])
    header = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: portwatch\n"
        "Source: https://github.com/portwatch/portwatch\n"
    )
    try:
        body = "\n\n".join([header.rstrip("\n"), *paragraphs(bundle, installed_as)])
    except LicenceError as exc:
        sys.stderr.write(f"licences.py: {exc}\n")
        return 1
    out.write_text(body + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
