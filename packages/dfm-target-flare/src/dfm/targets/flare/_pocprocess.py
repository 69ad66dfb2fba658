"""The processes of a POC: NVFLARE's commands run for it, and ending what is left of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def run_command(
    command: list[str], env: dict[str, str], log: Path, timeout: float
) -> tuple[int, str]:
    """Run an NVFLARE command; its exit code (-1: timed out) and output, also logged."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(log.parent),
        )
    except subprocess.TimeoutExpired as e:
        partial = (e.stdout or b"") + (e.stderr or b"")
        text = partial.decode(errors="replace") if isinstance(partial, bytes) else str(partial)
        return -1, f"timed out after {timeout:g}s: {text}"
    output = (done.stdout or "") + (done.stderr or "")
    with log.open("a", encoding="utf-8") as f:
        f.write(f"$ {' '.join(command)}\n{output}\n")
    return done.returncode, output


def nvflare_cli() -> list[str]:
    """NVFLARE's command line, in this interpreter."""
    return [sys.executable, "-m", "nvflare.cli"]


def kill_leftovers(marker: str, launcher_pgid: int | None) -> int:
    """End every process of the launcher's group or with ``marker`` in its command line.

    Terminates them, kills those alive 3 s later; the number of processes found.
    """
    import psutil

    victims: list[psutil.Process] = []
    for process in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            cmdline = " ".join(process.info.get("cmdline") or [])
            pgid = os.getpgid(process.pid)
        except (psutil.Error, OSError):
            continue
        if process.pid == os.getpid():
            continue
        if (launcher_pgid is not None and pgid == launcher_pgid) or (marker in cmdline):
            victims.append(process)
    for process in victims:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(victims, timeout=3.0)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=3.0)
    if launcher_pgid is not None:
        try:
            os.killpg(launcher_pgid, signal.SIGKILL)
        except OSError:
            pass
    return len(victims)
