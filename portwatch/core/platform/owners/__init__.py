"""Linux: which processes hold a socket, in three parts behind :class:`SocketOwners`.

``processes`` lists /proc (only when a process was made), ``holders`` caches
each socket's (pid, fd) holders and the answer, ``walk`` reads fd tables to
find the holders of sockets not yet explained; ``socket_owners`` runs one
poll of the three.
"""
