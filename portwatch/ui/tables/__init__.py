"""The listener and connection tables: the incremental models and the proxies over them."""
