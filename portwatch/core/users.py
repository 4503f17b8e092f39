"""Who portwatch runs as, and which user owns a process: for the safety rules and copy texts."""

from __future__ import annotations

import getpass
import os
import sys

import psutil

from portwatch.core.safetext import from_os

IS_WINDOWS = sys.platform == "win32"


def my_identity() -> tuple[int | None, str | None]:
    """portwatch's effective uid (None on Windows) and user name (DOMAIN\\user on Windows)."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):
        user = None
    if IS_WINDOWS and user is not None:
        domain = os.environ.get("USERDOMAIN")
        user = f"{domain}\\{user}" if domain else user
    return uid, user


def owner_uid(pid: int) -> int | None:
    """The real uid of process ``pid``; None on Windows or when it cannot be read."""
    if sys.platform == "win32":  # spelled out so mypy --platform win32 sees the branch
        return None
    try:
        return int(psutil.Process(pid).uids().real)
    except (psutil.Error, OSError):
        return None


class UserNames:
    """User names by uid, each looked up once (``pwd`` reads /etc/passwd or asks NSS)."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def name(self, uid: int | None) -> str | None:
        """The user's name, or 'uid 1234' when the system has none; None if ``uid`` is."""
        if uid is None:
            return None
        try:
            return self._names[uid]
        except KeyError:
            pass
        found = _user_name(uid)
        if len(self._names) > 4096:
            self._names.clear()
        self._names[uid] = found
        return found


def _user_name(uid: int) -> str:
    if sys.platform == "win32":
        return f"uid {uid}"
    import pwd

    try:
        return from_os(pwd.getpwuid(uid).pw_name)
    except (KeyError, OverflowError):
        return f"uid {uid}"
