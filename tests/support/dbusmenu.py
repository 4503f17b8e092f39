"""A StatusNotifierItem's menu read as a tray host reads it: com.canonical.dbusmenu over D-Bus.

A host (libdbusmenu, as gtk-sni-tray, Waybar and GNOME's AppIndicator use)
finds the menu's object path in the item's ``Menu`` property, fetches the
layout with ``GetLayout``, tells the app the menu is about to open with
``AboutToShow`` (refetching only when the answer is "update needed") and draws
what it has. :class:`MenuReader` makes those calls with jeepney.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# jeepney ships no type information (as in portwatch/notify/dbus.py).
from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]

MENU_INTERFACE = "com.canonical.dbusmenu"
ITEM_INTERFACE = "org.kde.StatusNotifierItem"
DEFAULT_ITEM_PATH = "/StatusNotifierItem"
TIMEOUT = 10.0


@dataclass(frozen=True)
class MenuNode:
    """One item of an exported menu: its id, its label, and the items under it."""

    id: int
    label: str
    separator: bool
    visible: bool
    children: tuple[MenuNode, ...]

    def shown(self) -> list[MenuNode]:
        """The children a host draws: visible ones, separators left out."""
        return [child for child in self.children if child.visible and not child.separator]

    def labels(self) -> list[str]:
        return [child.label for child in self.shown()]

    def structure(self) -> tuple[Any, ...]:
        """Ids, labels and nesting: what a host must refetch when it changes."""
        return (self.id, self.label, self.separator, tuple(c.structure() for c in self.children))


def _node(item_id: int, properties: dict[str, tuple[str, Any]], children: list[Any]) -> MenuNode:
    def prop(name: str, default: Any) -> Any:
        value = properties.get(name)
        return default if value is None else value[1]

    return MenuNode(
        id=item_id,
        label=str(prop("label", "")),
        separator=prop("type", "standard") == "separator",
        visible=bool(prop("visible", True)),
        # Each child comes as a variant: (signature, (id, properties, children)).
        children=tuple(_node(*child[1]) for child in children),
    )


class MenuReader:
    """A connection to the session bus at ``bus_address`` that reads one item's menu."""

    def __init__(self, bus_address: str, item: str) -> None:
        """``item``: as the watcher lists it, 'bus name' or 'bus name/object path'."""
        self._conn = open_dbus_connection(bus_address)
        name, slash, path = item.partition("/")
        self.bus_name = name
        item_address = DBusAddress(
            f"/{path}" if slash else DEFAULT_ITEM_PATH,
            bus_name=name,
            interface="org.freedesktop.DBus.Properties",
        )
        (variant,) = self._call(item_address, "Get", "ss", (ITEM_INTERFACE, "Menu"))
        self.menu_path: str = variant[1]
        self._menu = DBusAddress(self.menu_path, bus_name=name, interface=MENU_INTERFACE)

    def _call(self, address: Any, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        reply = self._conn.send_and_get_reply(
            new_method_call(address, method, signature, body), timeout=TIMEOUT
        )
        return unwrap_msg(reply)

    def layout(self, parent: int = 0) -> MenuNode:
        """``GetLayout(parent, -1, [])``: the whole tree under ``parent`` (0: the menu)."""
        _revision, (item_id, properties, children) = self._call(
            self._menu, "GetLayout", "iias", (parent, -1, [])
        )
        return _node(item_id, properties, children)

    def about_to_show(self, item_id: int = 0) -> bool:
        """``AboutToShow(id)``, as a host sends it when it opens that (sub)menu: whether
        the app says the host must fetch the layout again."""
        (update_needed,) = self._call(self._menu, "AboutToShow", "i", (item_id,))
        return bool(update_needed)

    def close(self) -> None:
        self._conn.close()
