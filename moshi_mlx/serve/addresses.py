"""Where the server can be reached: the bound port and the addresses other devices type."""

from __future__ import annotations

import socket


def bound_port(runner, wanted: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return wanted


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def reachable_hosts(host: str) -> list[str]:
    """What other devices type for `host`: for a wildcard, this machine's LAN addresses."""
    if host in ("0.0.0.0", "::", ""):
        found = []
        for family, probe in ((socket.AF_INET, ("10.255.255.255", 1)),):
            try:  # a UDP "connect" sends nothing: it only picks the outgoing interface
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.connect(probe)
                    found.append(s.getsockname()[0])
            except OSError:
                pass
        name = socket.gethostname()
        if name and name != "localhost":
            found.append(name if "." in name else f"{name}.local")
        return found or ["127.0.0.1"]
    return [host]
