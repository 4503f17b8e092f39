"""What a person calls the process that holds a port: its app, project, unit and container.

One call per process, cached while the process lives::

    identities = IdentityCache()
    who = identities.identity(info.pid, info.started, info.name, info.cmdline, cwd=info.cwd)
    identities.prune(live_pids)  # once a poll

Plain Python (no Qt); every input from a process is treated as untrusted.
"""

from portwatch.core.identity.cache import UNREAD, Identity, IdentityCache

__all__ = ["UNREAD", "Identity", "IdentityCache"]
