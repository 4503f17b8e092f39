"""Applying one poll's changes to the listener table, as the UI thread does.

    python3 benchmarks/bench_model.py            # 1k and 10k rows

Builds ``ListenerTableModel`` with its ``ListenerProxy`` (sorted by port) and
a ``QTableView`` on top, offscreen, fills it, then applies polls with 1 %
churn: 1 % of rows vanish, 1 % appear, 1 % change (a connection count). Times
``apply()`` and the expiry tick that follows (both run on the UI thread), in
two cases: the scanner hands back the same ``Listener`` objects for unchanged
sockets (what ``Scanner`` does), or every object is new (a rebuilt snapshot).
Then search keystrokes, each after a poll: "postgres" typed into an empty
search box (the filter narrows to an eighth of the rows), the same words
again (must not re-filter), and the box cleared (every row comes back).
Last, a click on the PID header: the whole table re-sorted once, timed until
the view has its new order. The first fill (the first ``apply()`` with the
view laid out) is timed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from portwatch.core.exposure import classify
from portwatch.core.model import Listener, PortRange, Proto
from portwatch.core.services import service_name

NAMES = ("nginx", "postgres", "python3", "node", "sshd", "redis-server", "java", "dnsmasq")
ADDRESSES = (("127.0.0.1", 4), ("0.0.0.0", 4), ("::1", 6), ("::", 6), ("192.168.1.20", 4))


def make_listener(n: int, connections: int = 0) -> Listener:
    address, family = ADDRESSES[n % len(ADDRESSES)]
    port = 1024 + (n * 7919) % 64000
    proto: Proto = "tcp" if n % 4 else "udp"
    pid = 1000 + n // 8
    name = NAMES[n % len(NAMES)]
    return Listener(
        proto=proto,
        family=family,
        address=address,
        port=port,
        pid=pid,
        process=name,
        exe=f"/usr/bin/{name}",
        cmdline=(f"/usr/bin/{name}", "--port", str(port), "--config", f"/etc/{name}.conf"),
        user="www-data",
        started=1_700_000_000.0 + n,
        service=service_name(port, proto),
        port_range=PortRange.REGISTERED,
        ephemeral=False,
        exposure=classify(address),
        v6only=False if address == "::" else None,
        connections=connections if proto == "tcp" else 0,
    )


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_size(
    size: int, repeats: int, *, reuse_objects: bool, search_repeats: int = 3
) -> dict[str, Any]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QTableView

    from portwatch.ui.tables.filters import ListenerProxy
    from portwatch.ui.tables.listeners import ListenerColumn, ListenerTableModel

    app = QApplication.instance() or QApplication([])
    clock = [0.0]
    model = ListenerTableModel(clock=lambda: clock[0])
    proxy = ListenerProxy()
    proxy.setSourceModel(model)
    proxy.sort(ListenerColumn.PORT)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.resize(1000, 700)

    churn = max(1, size // 100)
    next_id = size
    current = {n: make_listener(n) for n in range(size)}
    started = time.perf_counter()
    model.apply(list(current.values()))
    app.processEvents()  # the view lays out and paints its first screen
    fill_time = time.perf_counter() - started

    def next_poll(poll: int) -> list[Listener]:
        nonlocal next_id
        ids = list(current)
        # 1 % vanish, 1 % appear, 1 % change their connection count.
        for n in ids[poll * churn % len(ids) :][:churn]:
            del current[n]
        for _ in range(churn):
            current[next_id] = make_listener(next_id)
            next_id += 1
        for n in list(current)[-(3 * churn) : -(2 * churn)]:
            current[n] = replace(current[n], connections=current[n].connections + 1)
        if reuse_objects:
            return list(current.values())
        return [replace(item) for item in current.values()]

    apply_times: list[float] = []
    expire_times: list[float] = []
    for poll in range(repeats):
        items = next_poll(poll)
        started = time.perf_counter()
        model.apply(items)
        apply_times.append(time.perf_counter() - started)
        clock[0] += 1.0  # a second per poll: highlights and lingering rows expire
        started = time.perf_counter()
        model.expire()
        expire_times.append(time.perf_counter() - started)
        app.processEvents()

    search_times: list[float] = []
    same_search_times: list[float] = []
    clear_times: list[float] = []
    for poll in range(repeats, repeats + search_repeats):
        model.apply(next_poll(poll))  # the rows changed since the last keystroke
        app.processEvents()
        started = time.perf_counter()
        proxy.set_search("postgres")
        search_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        proxy.set_search("postgres ")  # the same words: must not re-filter
        same_search_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        proxy.set_search("")
        clear_times.append(time.perf_counter() - started)
        app.processEvents()
    started = time.perf_counter()
    view.sortByColumn(ListenerColumn.PID, Qt.SortOrder.DescendingOrder)
    app.processEvents()  # until the view shows the new order
    resort_time = time.perf_counter() - started
    view.deleteLater()
    proxy.deleteLater()
    model.deleteLater()
    app.processEvents()
    return {
        "rows": size,
        "reuse_objects": reuse_objects,
        "apply_median_ms": statistics.median(apply_times) * 1000,
        "apply_p95_ms": _percentile(apply_times, 0.95) * 1000,
        "expire_median_ms": statistics.median(expire_times) * 1000,
        "search_ms": statistics.median(search_times) * 1000,
        "same_search_ms": statistics.median(same_search_times) * 1000,
        "clear_search_ms": statistics.median(clear_times) * 1000,
        "resort_ms": resort_time * 1000,
        "fill_ms": fill_time * 1000,
    }


def run(sizes: Sequence[int] = (1000, 10000), repeats: int = 15) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        for reuse in (True, False):
            result = bench_size(size, repeats, reuse_objects=reuse)
            print(result, flush=True)
            results.append(result)
    return results


def markdown_rows(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| rows | unchanged rows are | apply() median ms | apply() p95 ms "
        "| expiry tick median ms | search keystroke ms | same search again ms "
        "| search cleared ms | header click ms | first fill ms |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        objects = "the same objects" if r["reuse_objects"] else "new objects"
        lines.append(
            f"| {r['rows']:,} | {objects} | {r['apply_median_ms']:.1f} "
            f"| {r['apply_p95_ms']:.1f} | {r['expire_median_ms']:.1f} "
            f"| {r['search_ms']:.1f} | {r['same_search_ms']:.2f} | {r['clear_search_ms']:.1f} "
            f"| {r['resort_ms']:.0f} | {r['fill_ms']:.0f} |"
        )
    lines += [
        "",
        "1 % churn per poll: 1 % of rows vanish, 1 % appear, 1 % change. `Scanner` "
        "hands back the same `Listener` object for an unchanged socket. Search "
        "figures are medians of three keystrokes, each after a poll; the header click "
        "is one re-sort by PID until the view has its new order; the first fill is "
        "the first apply() with the view laid out.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print("\n".join(markdown_rows(run(args.sizes, args.repeats))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
