"""The processes of a POC: NVFLARE's commands run for it, its supervisors, ending what is left."""

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


_SUPERVISOR_LOOP = "while true\ndo\n  sleep 5\n"
_AT_ONCE_LOOP = (
    "first_pass=1\n"
    "while true\n"
    "do\n"
    "  # DFM: the first start at once; then supervise every 5 s as before\n"
    '  if [[ -z "$first_pass" ]]; then sleep 5; fi\n'
    "  first_pass=\n"
)


def start_at_once(prod: Path) -> int:
    """Make each participant's supervisor start its process at once; how many it changed.

    NVFLARE's ``startup/sub_start.sh`` loops "sleep 5, (re)start the process if it is not
    running", so every POC start waited 5 s before the server and the clients even began
    (a third of the time to ready). Only the first pass loses its sleep: a process that
    dies is restarted on the same 5 s tick as before. A script of another shape is left
    alone.
    """
    changed = 0
    for script in sorted(prod.glob("*/startup/sub_start.sh")):
        text = script.read_text(encoding="utf-8")
        if text.count(_SUPERVISOR_LOOP) == 1:
            script.write_text(text.replace(_SUPERVISOR_LOOP, _AT_ONCE_LOOP), encoding="utf-8")
            changed += 1
    return changed


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
