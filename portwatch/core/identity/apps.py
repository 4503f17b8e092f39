"""What a person calls a process: the tool its command line runs, not the interpreter.

``python3 /venv/bin/uvicorn shop.api:app`` is "uvicorn shop.api:app", ``node
node_modules/.bin/vite`` is "vite", ``node server.js`` is "server.js". The
command line is unwrapped first (:mod:`.commands`); the program left is then
looked up in :data:`RECOGNISERS`, a table of small functions. A program with
no recogniser is named by its script (when an interpreter ran it) or else by
the process name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from portwatch.core.identity.commands import is_interpreter, program_name, unwrap
from portwatch.core.safetext import from_os

MAX_APP_CHARS = 200
COMM_CHARS = 15  # TASK_COMM_LEN - 1


@dataclass(frozen=True, slots=True)
class Command:
    """The program a command line finally runs, with its arguments and working folder."""

    program: str  # a base name: "vite", "manage.py", "http.server"
    args: tuple[str, ...]
    cwd: str | None


Recogniser = Callable[[Command], str]

# --- recognisers: the program left after unwrapping -> what a person calls it ---

_APP_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.()]*$")
_MODULE = re.compile(r"^[A-Za-z_][\w.]*$")


def _app_spec(args: Sequence[str]) -> str | None:
    """The ``module:attribute`` an ASGI/WSGI server serves (gunicorn also takes a bare module)."""
    positional = [a.strip("[]") for a in args if not a.startswith("-")]
    for arg in positional:
        if _APP_SPEC.match(arg):
            return arg
    modules = [a for a in positional if _MODULE.match(a) and a not in ("master", "worker")]
    return modules[-1] if modules else None


def _with_spec(tool: str) -> Recogniser:
    def recognise(command: Command) -> str:
        spec = _app_spec(command.args)
        return f"{tool} {spec}" if spec else tool

    return recognise


def _with_subcommand(tool: str, subcommands: frozenset[str]) -> Recogniser:
    """``tool sub`` when the first argument is one of ``subcommands``, else ``tool``."""

    def recognise(command: Command) -> str:
        first = command.args[0] if command.args else ""
        return f"{tool} {_ALIASES.get(first, first)}" if first in subcommands else tool

    return recognise


_ALIASES = {"s": "server"}


def _named(app: str) -> Recogniser:
    return lambda _command: app


def _django(command: Command) -> str:
    return "django runserver" if "runserver" in command.args else "django"


def _webpack(command: Command) -> str:
    return "webpack-dev-server" if "serve" in command.args[:1] else "webpack"


def _http_server(command: Command) -> str:
    folder: str | None = None
    args = command.args
    for index, arg in enumerate(args):
        if arg in ("-d", "--directory") and index + 1 < len(args):
            folder = args[index + 1]
        elif arg.startswith("--directory="):
            folder = arg.split("=", 1)[1]
        elif arg.startswith("-d") and len(arg) > 2 and not arg.startswith("--"):
            folder = arg[2:]
    if folder is None or not folder.startswith("/"):
        base = command.cwd
        if base is None:
            return f"http.server {_folder_name(folder)}" if folder else "http.server"
        folder = str(PurePosixPath(base) / folder) if folder else base
    # The folder's name, as a person says it ("Downloads"); the path is in cwd.
    return f"http.server {_folder_name(folder)}"


def _folder_name(folder: str) -> str:
    return PurePosixPath(folder).name or folder


RECOGNISERS: dict[str, Recogniser] = {
    "vite": _with_subcommand("vite", frozenset({"preview"})),
    "next": _with_subcommand("next", frozenset({"dev", "start"})),
    "next-server": _named("next"),
    "webpack-dev-server": _named("webpack-dev-server"),
    "webpack": _webpack,
    "webpack-cli": _webpack,
    "uvicorn": _with_spec("uvicorn"),
    "gunicorn": _with_spec("gunicorn"),
    "hypercorn": _with_spec("hypercorn"),
    "flask": _with_subcommand("flask", frozenset({"run"})),
    "manage.py": _django,
    "django-admin": _django,
    "django": _django,
    "rails": _with_subcommand("rails", frozenset({"server", "s"})),
    "jupyter": _with_subcommand("jupyter", frozenset({"lab", "notebook", "server"})),
    "jupyter-lab": _named("jupyter lab"),
    "jupyterlab": _named("jupyter lab"),
    "jupyter-notebook": _named("jupyter notebook"),
    "jupyter-server": _named("jupyter server"),
    "http.server": _http_server,
}


def app_name(name: str | None, cmdline: Sequence[str] | None, cwd: str | None) -> str | None:
    """What a person calls this process; None only when neither name nor command line is known."""
    argv, unwrapped = unwrap(cmdline)
    if argv and argv[0]:
        command = Command(program_name(argv[0]), argv[1:], cwd)
        recogniser = RECOGNISERS.get(command.program)
        if recogniser is not None:
            return recogniser(command)[:MAX_APP_CHARS] or command.program[:MAX_APP_CHARS] or None
        if unwrapped and not is_interpreter(command.program):
            return command.program[:MAX_APP_CHARS]
    program = program_name(argv[0]) if argv else ""
    # Linux keeps 15 characters of a process name: argv[0] has the rest.
    truncated = name is not None and len(name) == COMM_CHARS and program.startswith(name)
    shown = program if truncated or not name else name
    return from_os(shown)[:MAX_APP_CHARS] or None
