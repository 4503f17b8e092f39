"""The portwatch engine: scanning, diffing, rules and history. Never imports Qt.

Kept empty on purpose: importing one part (``portwatch.core.model``) must not
load the scanner, psutil or the platform sources. Import from the modules.
"""
