"""From a command line to the program it finally runs: wrappers and interpreters unwrapped.

``env PORT=3000 npx vite`` runs vite; ``uv run python -m uvicorn app:main``
runs uvicorn; ``node node_modules/.bin/next dev`` runs next. Wrappers (env,
npx, npm exec, uv run, poetry run, ...) and interpreters (python3.11, node,
ruby, bun, deno) each have a small function in a table that returns the
command line they start, or None when it cannot be told (``python -c``).
Command lines are untrusted: only the first :data:`MAX_ARGS` arguments of at
most :data:`MAX_ARG_CHARS` characters each are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from portwatch.core.safetext import from_os

MAX_ARGS = 256
MAX_ARG_CHARS = 4096
# Wrappers inside wrappers (env uv run python -m ...): a bound, not a real depth.
_MAX_UNWRAPS = 8


def program_name(path: str) -> str:
    """A program's base name; a path into node_modules names its package."""
    # Backslashes separate folders only in a Windows path ("C:\\..."): elsewhere they are
    # part of a name, as in the ``\\xff`` an undecodable byte is shown as.
    windows = len(path) > 2 and path[1] == ":" and path[2] == "\\"
    parts = (path.replace("\\", "/") if windows else path).split("/")
    if "node_modules" in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index("node_modules")
        package = (
            parts[at + 1 : at + 3] if parts[at + 1].startswith("@") else parts[at + 1 : at + 2]
        )
        # node_modules/.bin/vite is a link named for its command; a package dir names itself.
        if package and package[0] != ".bin":
            return "/".join(package)
    name = parts[-1]
    return name[:-4] if name.lower().endswith(".exe") else name


def _skip_options(
    args: Sequence[str], with_value: frozenset[str], stop: frozenset[str] = frozenset()
) -> int | None:
    """Index of the first argument that is not an option (or an option's value).

    None when an option in ``stop`` says the code comes from elsewhere (``-c``, ``-e``).
    """
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return index + 1 if index + 1 < len(args) else None
        if not arg.startswith("-") or arg == "-":
            return index if arg != "-" else None
        name = arg.split("=", 1)[0]
        if name in stop:
            return None
        index += 2 if name in with_value and "=" not in arg else 1
    return None


# Each unwrapper takes the arguments after the program and returns the command
# line it starts (program first), or None when that cannot be told.
Unwrapper = Callable[[Sequence[str]], tuple[str, ...] | None]


def _after_options(
    args: Sequence[str], with_value: frozenset[str], stop: frozenset[str] = frozenset()
) -> tuple[str, ...] | None:
    start = _skip_options(args, with_value, stop)
    return tuple(args[start:]) if start is not None else None


# --- interpreters ---


def _python(args: Sequence[str]) -> tuple[str, ...] | None:
    """``python [options] script ...`` or ``-m module ...`` (a module is named as it is)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("-m") and not arg.startswith("--"):
            module = arg[2:] or (args[index + 1] if index + 1 < len(args) else "")
            rest = args[index + (1 if arg[2:] else 2) :]
            return (module, *rest) if module else None
        if arg == "-" or (arg.startswith("-c") and not arg.startswith("--")):
            return None
        if not arg.startswith("-"):
            return tuple(args[index:])
        index += 2 if arg in ("-X", "-W", "--check-hash-based-pycs") else 1
    return None


_NODE_VALUES = frozenset(
    {"-r", "--require", "--import", "--loader", "--experimental-loader", "--title", "-C"}
)
_NODE_STOPS = frozenset({"-e", "--eval", "-p", "--print", "-i", "--interactive"})


def _node(args: Sequence[str]) -> tuple[str, ...] | None:
    return _after_options(args, _NODE_VALUES, _NODE_STOPS)


def _ruby(args: Sequence[str]) -> tuple[str, ...] | None:
    return _after_options(args, frozenset({"-I", "-r", "-C", "-E", "-x"}), frozenset({"-e"}))


def _bun_or_deno(args: Sequence[str]) -> tuple[str, ...] | None:
    """``bun [run] file``, ``deno run|serve [options] file``."""
    rest = args[1:] if args[:1] and args[0] in ("run", "serve") else args
    return _after_options(rest, frozenset({"--config", "-c", "--import-map", "--cwd"}))


INTERPRETERS: dict[str, Unwrapper] = {
    "node": _node,
    "nodejs": _node,
    "bun": _bun_or_deno,
    "deno": _bun_or_deno,
}
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[dmu]?$")
_RUBY = re.compile(r"^ruby(\d+(\.\d+)*)?$")


def _versioned(program: str) -> Unwrapper | None:
    """Interpreters named with their version: python3.11, pypy3, ruby3.2."""
    if _PYTHON.match(program):
        return _python
    if _RUBY.match(program):
        return _ruby
    return None


# --- wrappers ---


def _env(args: Sequence[str]) -> tuple[str, ...] | None:
    """``env [-i] [-u NAME] [NAME=VALUE ...] command``, and a shebang's ``env -S "node -r x"``."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-S", "--split-string") and index + 1 < len(args):
            return (*args[index + 1].split(), *args[index + 2 :])
        if arg.startswith("-S") and len(arg) > 2:
            return (*arg[2:].split(), *args[index + 1 :])
        if arg in ("-u", "--unset", "-C", "--chdir"):
            index += 2
        elif arg.startswith("-") or ("=" in arg and not arg.startswith("=")):
            index += 1
        else:
            return tuple(args[index:])
    return None


def _npx(args: Sequence[str]) -> tuple[str, ...] | None:
    """``npx [options] package[@version] ...``: the command is named without its version.

    ``npx -c "vite --port 3000"`` runs the command in its one argument.
    """
    for index, arg in enumerate(args[:-1]):
        if arg in ("-c", "--call"):
            return tuple(args[index + 1].split()) or None
    rest = _after_options(args, frozenset({"-p", "--package", "--cache", "--userconfig"}))
    if not rest:
        return None
    package = rest[0]
    return (package[:1] + package[1:].split("@", 1)[0], *rest[1:])


def _runner(subcommand: str, with_value: frozenset[str] = frozenset()) -> Unwrapper:
    """A tool that runs a command after a subcommand (``uv run``, ``poetry run``)."""

    def unwrap_runner(args: Sequence[str]) -> tuple[str, ...] | None:
        if not args or args[0] != subcommand:
            return None
        return _after_options(args[1:], with_value)

    return unwrap_runner


_UV_OPTIONS = frozenset(
    {"--with", "--python", "-p", "--project", "--directory", "--package", "--env-file"}
    | {"--extra", "--group", "--index", "--with-requirements", "--from"}
)
WRAPPERS: dict[str, Unwrapper] = {
    "env": _env,
    "npx": _npx,
    "bunx": _npx,
    "uvx": _npx,
    "npm": lambda args: _npx(args[1:]) if args[:1] and args[0] == "exec" else None,
    "uv": _runner("run", _UV_OPTIONS),
    "poetry": _runner("run"),
    "pipenv": _runner("run"),
    "pdm": _runner("run"),
    "hatch": _runner("run"),
}


def _bounded(argv: Sequence[str]) -> tuple[str, ...]:
    return tuple(from_os(str(arg)[:MAX_ARG_CHARS]) for arg in argv[:MAX_ARGS])


def _title_words(argv: tuple[str, ...]) -> tuple[str, ...]:
    """A process that rewrote its title ("nginx: master process ...") as words.

    psutil already splits a one-string title at spaces; the name before the colon is kept.
    """
    if len(argv) == 1 and " " in argv[0] and "/" not in argv[0].split(" ", 1)[0]:
        argv = tuple(argv[0].split())
    if argv and argv[0].endswith(":") and "/" not in argv[0]:
        return (argv[0].rstrip(":"), *argv[1:])
    return argv


def unwrap(cmdline: Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """The command line of the program finally run, and whether a wrapper or interpreter ran it."""
    bounded = _bounded(cmdline or ())
    argv = _title_words(bounded)
    unwrapped = argv != bounded  # a title the process chose names it
    for _ in range(_MAX_UNWRAPS):
        if not argv or not argv[0]:
            break
        program = program_name(argv[0])
        wrapper = WRAPPERS.get(program) or INTERPRETERS.get(program) or _versioned(program)
        inner = wrapper(argv[1:]) if wrapper is not None else None
        if not inner or not inner[0]:
            break
        argv, unwrapped = inner, True
    return argv, unwrapped


def is_interpreter(program: str) -> bool:
    return program in INTERPRETERS or _versioned(program) is not None
