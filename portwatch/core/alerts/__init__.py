"""Alerts: from what changed between two scans to what the user should hear.

- :mod:`.alert`: the kinds, the urgency levels and the :class:`~.alert.Alert` value.
- :mod:`.policy`: which listeners a watched port, the ignore list and the
  exposure setting speak about.
- :mod:`.texts`: how an alert names its process, ports and reach, and the
  summary that stands for many alerts.
- :mod:`.engine`: :class:`~.engine.AlertRules`, which turns scans into alerts
  (start-up summary, quiet period, batching).

Importing the package loads none of them.
"""
