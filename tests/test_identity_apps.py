"""The app a person calls a process by, read from real children's command lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from portwatch.core.identity import IdentityCache
from portwatch.core.identity.apps import MAX_APP_CHARS, app_name
from portwatch.core.identity.commands import MAX_ARGS, unwrap
from portwatch.core.procinfo import read_process
from tests.support.procs import wait_until
from tests.support.shaped_child import ShapedChild

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PYTHON = sys.executable

# (argv[0], script path in the project folder or None, arguments, the app expected)
SHAPES = [
    ("node", "server.js", [], "server.js"),
    ("node", "node_modules/.bin/vite", ["--port", "0"], "vite"),
    ("node", "node_modules/vite/bin/vite.js", ["preview"], "vite preview"),
    ("node", "node_modules/next/dist/bin/next", ["dev", "-p", "0"], "next dev"),
    (
        "node",
        "node_modules/webpack-dev-server/bin/webpack-dev-server.js",
        ["--port", "0"],
        "webpack-dev-server",
    ),
    ("nodejs", "node_modules/webpack/bin/webpack.js", ["serve"], "webpack-dev-server"),
    (PYTHON, "venv/bin/uvicorn", ["app:main", "--host", "::1", "--port", "0"], "uvicorn app:main"),
    (
        PYTHON,
        "venv/bin/gunicorn",
        ["-w", "2", "-k", "uvicorn.workers.UvicornWorker", "-b", "127.0.0.1:0", "shop.asgi:app"],
        "gunicorn shop.asgi:app",
    ),
    (PYTHON, "venv/bin/gunicorn", ["shop.wsgi"], "gunicorn shop.wsgi"),
    (PYTHON, "venv/bin/flask", ["run", "--port", "0"], "flask run"),
    ("python3.11", "manage.py", ["runserver", "127.0.0.1:0"], "django runserver"),
    ("ruby", "bin/rails", ["server", "-p", "0"], "rails server"),
    ("ruby3.2", "bin/rails", ["s"], "rails server"),
    (PYTHON, "venv/bin/jupyter-lab", ["--no-browser"], "jupyter lab"),
    (PYTHON, "venv/bin/jupyter", ["notebook", "--port=0"], "jupyter notebook"),
    ("bun", "server.ts", [], "server.ts"),
    ("deno", "main.ts", [], "main.ts"),
    (PYTHON, "tools/serve_api.py", ["--port", "0"], "serve_api.py"),
]


def _identity_of(pid: int, cache: IdentityCache | None = None) -> tuple[str, str | None]:
    # Popen returns once the child has exec'd, a moment before the kernel has its
    # arguments in place: wait for them (the state), not for a time.
    assert wait_until(lambda: Path(f"/proc/{pid}/cmdline").read_bytes() != b"", timeout=10)
    info = read_process(psutil.Process(pid))
    assert info is not None
    found = (cache or IdentityCache()).identity(
        pid, info.started, info.name, info.cmdline, cwd=info.cwd
    )
    return found.app, info.name


@pytest.mark.parametrize(("arg0", "script", "args", "expected"), SHAPES)
def test_app_of_a_real_child_with_the_real_command_line_shape(
    tmp_path: Path, arg0: str, script: str, args: list[str], expected: str
) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    with ShapedChild(arg0, project / script, args, project) as child:
        cmdline = psutil.Process(child.pid).cmdline()
        assert cmdline == [arg0, str(project / script), *args]
        app, name = _identity_of(child.pid)
        assert app == expected
        assert name is not None
        assert name.startswith("python")  # what the binary alone says


def test_http_server_is_named_with_the_folder_it_serves(tmp_path: Path) -> None:
    served = tmp_path / "Downloads"
    served.mkdir()
    # Without -d it serves its working folder; -d, --directory= and a relative -d name another.
    for args, expected in (
        ([], tmp_path),
        (["-d", str(served)], served),
        ([f"--directory={served}"], served),
        (["-d", "Downloads"], served),
    ):
        child = subprocess.Popen(
            [PYTHON, "-m", "http.server", "0", "--bind", "127.0.0.1", *args],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert _identity_of(child.pid)[0] == f"http.server {expected.name}"
        finally:
            child.kill()
            child.wait(5)


def test_a_real_child_whose_interpreter_runs_code_from_the_command_line_keeps_its_name(
    tmp_path: Path,
) -> None:
    code = "import sys; print(0, flush=True); sys.stdin.read()"
    child = subprocess.Popen(
        [PYTHON, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tmp_path
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()
        app, name = _identity_of(child.pid)
        assert app == name
    finally:
        child.kill()
        child.wait(5)


def test_a_child_whose_command_line_is_a_title_is_named_by_it(tmp_path: Path) -> None:
    # As nginx, postgres and gunicorn leave it: argv is one string with spaces.
    title = "gunicorn: master [shop.wsgi:application]"
    child = subprocess.Popen(
        ["bash", "-c", f"exec -a '{title}' {PYTHON}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONHOME": sys.base_prefix},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        # With no arguments Python runs what it reads on stdin, so argv stays the title.
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(b"import time\nprint(0, flush=True)\ntime.sleep(60)\n")
        child.stdin.close()
        child.stdout.readline()
        assert Path(f"/proc/{child.pid}/cmdline").read_bytes() == title.encode() + b"\0"
        assert _identity_of(child.pid)[0] == "gunicorn shop.wsgi:application"
    finally:
        child.kill()
        child.wait(5)


# Wrappers hold a port only rarely (they exec), so their shapes are command-line fixtures.
WRAPPED = [
    (["env", "PORT=3000", "-u", "HOME", "node", "server.js"], "server.js"),
    (["/usr/bin/env", "-S node --inspect", "/srv/bin/serve.js"], "serve.js"),
    (["npx", "--yes", "vite@5.2", "--host"], "vite"),
    (["npx", "-p", "next", "next", "dev"], "next dev"),
    (["npx", "-y", "-c", "vite --port 3000"], "vite"),
    (["npm", "exec", "--", "webpack-dev-server", "--port", "0"], "webpack-dev-server"),
    (
        ["uv", "run", "--with", "httpx", "--python", "3.12", "uvicorn", "app:main"],
        "uvicorn app:main",
    ),
    (["poetry", "run", "python", "-m", "flask", "run"], "flask run"),
    (["python3.12", "-X", "dev", "-u", "-m", "uvicorn", "api:app"], "uvicorn api:app"),
    (["python3", "-mhttp.server", "-d", "/srv/www"], "http.server www"),
    (["python3", "-m", "jupyterlab"], "jupyter lab"),
    (["python3", "-m", "shop.server"], "shop.server"),
    (["node", "--require", "ts-node/register", "src/index.ts"], "index.ts"),
    (["next-server (v14.2.3)"], "next"),
    (["nginx: worker process"], "nginx"),
]


@pytest.mark.parametrize(("cmdline", "expected"), WRAPPED)
def test_wrappers_and_interpreters_are_unwrapped(cmdline: list[str], expected: str) -> None:
    assert app_name("proc", cmdline, "/srv") == expected


def test_a_program_without_a_recogniser_is_named_by_its_process_name() -> None:
    assert app_name("sshd", ["/usr/sbin/sshd", "-D"], "/") == "sshd"
    assert app_name(None, ["/usr/sbin/sshd", "-D"], "/") == "sshd"
    assert app_name("redis-server", ["redis-server *:6379"], "/") == "redis-server"
    assert app_name(None, None, None) is None
    assert app_name("python3", ["python3", "-c", "pass"], None) == "python3"


def test_hostile_command_lines_are_bounded_and_never_crash() -> None:
    huge = ["node", *["--require", "x"] * 5000, "server.js"]
    assert len(unwrap(huge)[0]) <= MAX_ARGS
    assert app_name("node", huge, None) == "node"  # the script is past what is read
    long_script = "a" * 100_000 + ".js"
    assert len(app_name("node", ["node", long_script], None) or "") <= MAX_APP_CHARS
    odd = ["node", "/srv/\udcff\x1b[31m.js"]
    assert app_name("node", odd, None) == "\\xff\x1b[31m.js"
    for weird in ([""], ["", ""], ["env"], ["npx"], ["python3", "-m"], ["uv", "run"], ["-"]):
        assert app_name("p", weird, None) == "p"
    # Wrappers around wrappers stop at a bound instead of running on.
    assert app_name("p", ["env"] * 1000 + ["vite"], None) == "env"
