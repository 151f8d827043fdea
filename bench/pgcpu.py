"""What the benchmarks share: the CPU seconds of the local PostgreSQL server's work for one database, and peak RSS."""

from __future__ import annotations

import os
import resource
import threading


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ServerCpu:
    """CPU seconds of the local PostgreSQL processes serving one database: its backends and their parallel workers.

    Sampled from /proc every 0.1 s while running (a process's last < 0.1 s before it exits is missed), because the
    reads open short-lived ADBC connections whose CPU no statistic of the server keeps. Reads None when the server's
    processes are not visible (another host or container).
    """

    INTERVAL_S = 0.1

    def __init__(self, database: str) -> None:
        self.database = database
        self.seen: dict[int, float] = {}
        self.backends: set[int] = set()
        self.roles: dict[int, str] = {}
        self.visible = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-cpu", daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            role = self.roles.get(pid)
            try:
                if role is None:  # a process's title names its database (or its leader) for its whole life
                    with open(f"/proc/{entry}/cmdline", "rb") as fh:
                        title = fh.read().replace(b"\0", b" ").decode(errors="replace")
                    role = self.roles[pid] = self._role(title)
                if role == "other" or (role != "backend" and int(role) not in self.backends):
                    continue
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
            if role == "backend":
                self.backends.add(pid)
            self.seen[pid] = (int(fields[11]) + int(fields[12])) / self._tick

    def _role(self, title: str) -> str:
        """"backend" (of our database), the leader's pid (a parallel worker) or "other"."""
        if not title.startswith("postgres:"):
            return "other"
        self.visible = True
        if f" {self.database} " in title:
            return "backend"
        if "parallel worker for PID " in title:
            return title.rsplit("PID ", 1)[1].split()[0]
        return "other"

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            self._sample()

    def __enter__(self) -> ServerCpu:
        self._sample()
        self.start = dict(self.seen)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float | None:
        if not self.visible:
            return None
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in list(self.seen.items()))
