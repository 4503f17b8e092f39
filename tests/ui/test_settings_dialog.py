"""The Settings dialog: inline errors per field, OK only when valid, nothing invalid saved."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from portwatch.core.autostart import autostart_manager
from portwatch.core.model import Exposure
from portwatch.core.portspec import PortSpec
from portwatch.core.settings import NotificationStyle, Settings, WatchedPort
from portwatch.notify.probe import DeliveryProbe
from portwatch.ui.settings_dialog import SettingsDialog


def make(qtbot: QtBot, settings: Settings | None = None, **kwargs: object) -> SettingsDialog:
    # The dialog's options of mixed types, passed through as the test gives them.
    dialog = SettingsDialog(settings or Settings(), **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def ok_enabled(dialog: SettingsDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_shows_the_settings(qtbot: QtBot) -> None:
    settings = Settings(
        scan_interval=5.0,
        watched_ports=(
            WatchedPort(PortSpec(3000, 3000)),
            WatchedPort(
                PortSpec(5432, 5432, "tcp"),
                notify_freed=False,
                expected_owner="postgres",
                allowed_exposure=Exposure.LOOPBACK,
            ),
        ),
        exposure_level=Exposure.LAN,
        ignore_processes=("sshd", "cupsd"),
        ignore_ports=(PortSpec(53, 53, "udp"),),
        quiet_period=45,
        notification_style=NotificationStyle.TRAY,
    )
    dialog = make(qtbot, settings)
    assert [row.ports.text() for row in dialog.rows] == ["3000", "tcp/5432"]
    assert dialog.rows[1].owner.text() == "postgres"
    assert not dialog.rows[1].freed.isChecked()
    assert dialog.ignore_processes.text() == "sshd, cupsd"
    assert dialog.ignore_ports.text() == "udp/53"
    assert ok_enabled(dialog)
    # Unchanged fields come back unchanged.
    assert dialog.result_settings() == settings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "port 0 is out of range: ports are 1-65535"),
        ("70000", "port 70000 is out of range: ports are 1-65535"),
        ("abc", "'abc' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
        ("3000-2000", "range 3000-2000 is backwards: write the lower port first (2000-3000)"),
        ("1-10001", "range 1-10001 has 10001 ports: at most 10,000 in one range"),
        ("", "Enter a port or range, e.g. 3000"),
    ],
)
def test_invalid_port_shows_message_next_to_the_field(
    qtbot: QtBot, text: str, message: str
) -> None:
    dialog = make(qtbot)
    dialog.add_button.click()
    row = dialog.rows[0]
    qtbot.keyClicks(row.ports, text)
    assert not row.error.isHidden()
    assert row.error.text() == message
    assert not ok_enabled(dialog)
    # accept() refuses too: nothing invalid can leave the dialog.
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    with pytest.raises(ValueError, match="watched port 1"):
        dialog.result_settings()
    row.ports.setText("3000")
    assert row.error.isHidden()
    assert ok_enabled(dialog)


def test_duplicate_and_removal(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    dialog.add_row(WatchedPort(PortSpec(3000, 3000)))
    second = dialog.add_row(None)
    second.ports.setText("3000")
    assert second.error.text() == "3000 is already in the list (line 1)"
    assert not ok_enabled(dialog)
    second.remove.click()
    assert len(dialog.rows) == 1
    assert ok_enabled(dialog)


def test_ignore_ports_validated(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    dialog.ignore_ports.setText("22 99999")
    assert not dialog.ignore_ports_error.isHidden()
    assert dialog.ignore_ports_error.text() == "port 99999 is out of range: ports are 1-65535"
    assert not ok_enabled(dialog)
    dialog.ignore_ports.setText("22, udp/5353")
    assert dialog.ignore_ports_error.isHidden()
    assert dialog.result_settings().ignore_ports == (PortSpec(22, 22), PortSpec(5353, 5353, "udp"))


def test_edits_come_back(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    dialog.interval.setValue(10)
    row = dialog.add_row(None)
    row.ports.setText("8000-8010")
    row.occupied.setChecked(False)
    row.owner.setText("python3")
    row.allowed.setCurrentIndex(1)
    dialog.exposure_level.setCurrentIndex(1)
    dialog.ignore_processes.setText(" node ,, java")
    dialog.remote_client.setChecked(True)
    dialog.quiet_period.setValue(5)
    dialog.notification_style.setCurrentIndex(2)
    result = dialog.result_settings()
    assert result.scan_interval == 10.0
    assert result.watched_ports == (
        WatchedPort(
            PortSpec(8000, 8010),
            notify_occupied=False,
            expected_owner="python3",
            allowed_exposure=Exposure.LOOPBACK,
        ),
    )
    assert result.exposure_level is Exposure.LAN
    assert result.ignore_processes == ("node", "java")
    assert result.first_remote_client_alert
    assert result.quiet_period == 5.0
    assert result.notification_style is NotificationStyle.IN_APP


def test_exposure_level_follows_the_switch(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    assert dialog.exposure_level.isEnabled()
    dialog.exposure_alert.setChecked(False)
    assert not dialog.exposure_level.isEnabled()


def test_delivery_section_says_what_and_how_to_fix(qtbot: QtBot) -> None:
    missing = DeliveryProbe(
        method="none", detail="No notification service: x.", fix="Install dunst."
    )
    dialog = make(qtbot, delivery=missing, tray_available=False)
    text = dialog.delivery_label.text()
    assert "No notification service: x.\nHow to fix: Install dunst." in text
    assert "System tray: none found" in text
    found = DeliveryProbe(method="dbus", server="dunst 1.9", actions=True, detail="Via dunst 1.9.")
    dialog.set_delivery(found, True)
    assert (
        dialog.delivery_label.text()
        == "Via dunst 1.9.\nSystem tray: available (tray balloons work)."
    )


def test_start_at_login_where_the_system_has_none(qtbot: QtBot) -> None:
    dialog = make(qtbot, autostart_factory=lambda: None)
    assert not dialog.start_at_login.isEnabled()
    assert dialog.start_at_login.toolTip() == "Start at login is not available on this system."


def test_start_at_login_uses_the_real_autostart(qtbot: QtBot) -> None:
    manager = autostart_manager()
    assert not manager.is_enabled()
    dialog = make(qtbot)
    assert dialog.start_at_login.isEnabled()
    assert not dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(True)
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert manager.is_enabled()
    assert dialog.result_settings().start_at_login
    # And off again.
    dialog = make(qtbot)
    assert dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(False)
    dialog.accept()
    assert not manager.is_enabled()
