"""The listener and connection tables: the incremental models and the proxies over them.

A view shows ``filters.ListenerProxy`` (or ``ConnectionProxy``), a
``search_proxy.SearchProxy`` over a ``sort_proxy.SortProxy`` over the table
(``listeners.ListenerTableModel``, ``connections.ConnectionTableModel``), each
an ``incremental.IncrementalTableModel`` on ``rows.RowTableModel``. What a
cell shows is in ``cells``; the search box's words in ``search_terms``.
"""
