"""portwatch's icons and desktop files, installed as the package ``portwatch._resources``.

Read them with ``portwatch.core.paths.resource_path``; this folder is the one source
for the app, the wheel, the bundles and the installers.
"""
