"""The Linux fast path's sock_diag netlink reader and the socket source built on it.

``wire`` holds the kernel's constants and structs, ``bytecode`` compiles the
local-port filter, ``sock_diag`` dumps the tables and ``decode`` reads their
messages, ``rows`` turns sockets into rows (reused while nothing changed) and
``source`` is the :class:`~portwatch.core.platform.base.SocketSource` with
its fallbacks.
"""
