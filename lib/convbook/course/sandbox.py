"""Where a student's code runs while it is graded: bubblewrap around a throw-away copy of the submission.

:class:`Sandbox` starts :mod:`convbook.course.runner` (the student's cells, nothing else) with Debian's
``bubblewrap`` (``bwrap``): a new mount namespace in which only these exist:

* the system's ``/usr`` (and ``/bin``, ``/lib``, ... as links), the Python installation, the virtual environment and
  the folder that holds ``convbook``, all **read-only**;
* a private, empty ``/tmp`` and home, ``/dev`` and ``/proc`` of its own (new PID namespace: no other process is
  visible);
* a throw-away **copy** of the one submission folder, the only place it can write.

The course folder (``source/``, ``gradebook.db``, ``hidden_seed.txt``), other students' work and the rest of the
machine are simply not there; the network is unshared (``--unshare-all``: no interface but a dead loopback), the
environment is emptied (``--clearenv``: no ``CONVBOOK_HIDDEN_SEED``), and the process dies with the grader
(``--die-with-parent``). A folder holding the course must not be among the read-only ones: :func:`bind_roots` refuses.

Where ``bwrap`` is missing or cannot create namespaces (some containers), ``mode="auto"`` falls back to the copy of
the submission in a temporary folder with an empty environment, and says so once (:data:`FALLBACK_MESSAGE`): the
tests still run outside the student's process, but the student's code could read what the grading user can read.
``mode="bwrap"`` refuses to grade without the sandbox instead.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import convbook

FALLBACK_MESSAGE = (
    "bubblewrap (bwrap) is not usable here, so student code runs in a throw-away copy of its folder with an empty "
    "environment but WITHOUT isolation: it could read files the grading user can read (install Debian's "
    "`bubblewrap`, or grade with --sandbox bwrap to refuse)"
)
MODES = ("auto", "bwrap", "none")


class RunnerDied(RuntimeError):
    """The student's process ended (``os._exit``, a crash, the memory killer) or broke the protocol."""


class RunnerTimeout(RuntimeError):
    """The student's code did not answer in time and was interrupted."""


def bind_roots() -> list[str]:
    """The read-only folders the student's Python needs: the installation, the venv, the library's folder."""
    roots = {sys.prefix, sys.base_prefix, str(Path(convbook.__file__).resolve().parents[1])}
    roots.add(str(Path(sys.executable).resolve().parents[1]))
    for entry in sys.path:
        if entry and Path(entry).is_dir() and Path(entry).resolve() != Path.cwd().resolve():
            if "site-packages" in entry or entry.startswith((sys.prefix, sys.base_prefix)):
                roots.add(entry)
    roots = {str(Path(r).resolve()) for r in roots}
    return sorted(r for r in roots if not any(r != o and r.startswith(o + "/") for o in roots))


def check_roots(roots: list[str], private: list[Path]) -> None:
    """Raise ``ValueError`` when a read-only root holds one of the ``private`` folders (the course)."""
    for folder in private:
        folder = str(Path(folder).resolve())
        for root in roots:
            if folder == root or folder.startswith(root.rstrip("/") + "/"):
                raise ValueError(f"sandbox: the course folder {folder} lies inside {root}, which students can read")


def bwrap_command(workdir: Path, roots: list[str]) -> list[str]:
    """The ``bwrap`` command line that runs the runner in ``workdir`` with only ``roots`` (read-only) besides."""
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    cmd += ["--ro-bind", "/usr", "/usr", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts"):
        cmd += ["--ro-bind-try", etc, etc]
    for root in roots:
        if not root.startswith("/usr/"):
            cmd += ["--ro-bind", root, root]
    cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for key, value in _env(workdir).items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", sys.executable, "-m", "convbook.course.runner", *roots]


def _env(workdir: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
    }


@functools.cache
def bwrap_works() -> tuple[bool, str]:
    """Whether ``bwrap`` can start a sandboxed process here, and if not, why."""
    if shutil.which("bwrap") is None:
        return False, "bwrap is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = bwrap_command(Path(tmp), bind_roots())
        cmd = cmd[: cmd.index("--")] + ["--", sys.executable, "-c", "print('ok')"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        return False, (proc.stderr.strip().splitlines() or ["bwrap failed"])[-1]
    return True, ""


def resolve_mode(mode: str) -> str:
    """``bwrap`` or ``none`` for a requested mode; ``ValueError`` for an unknown one or a sandbox that cannot run."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return "none"
    works, why = bwrap_works()
    if works:
        return "bwrap"
    if mode == "bwrap":
        raise ValueError(f"sandbox: bubblewrap cannot run here ({why})")
    return "none"


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (read from ``/proc``; Linux only, where bwrap runs)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


class Sandbox:
    """One student's runner process: run cells, get values, call functions, with time limits.

    ``folder`` is copied to a temporary folder, the only one the student's code can write. After a timeout the
    process is interrupted (``SIGINT``); one that does not come back, or dies, is restarted and the cells that ran
    well before are run again (:meth:`replay`), so that one bad cell costs only its own exercise.
    """

    def __init__(self, folder: Path, mode: str = "auto", private: tuple[Path, ...] = ()):
        self.mode = resolve_mode(mode)
        self.roots = bind_roots()
        check_roots(self.roots, list(private))
        self.tmp = Path(tempfile.mkdtemp(prefix="convbook-grade-"))
        self.workdir = self.tmp / "submission"
        shutil.copytree(folder, self.workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.events: list[str] = []
        self.history: list[str] = []  # cells that ran well, for a replay
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        if self.mode == "bwrap":
            cmd = bwrap_command(self.workdir, self.roots)
            env = None
        else:
            cmd = [sys.executable, "-m", "convbook.course.runner", *self.roots]
            env = {**_env(self.workdir), "HOME": str(self.tmp), "MPLCONFIGDIR": str(self.tmp / "mpl")}
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env=env if env is not None else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._read(120)  # {"ready": true}

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise RunnerTimeout(f"no answer in {timeout:g} s")
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                raise RunnerDied(f"the student's Python process ended (exit status {self.proc.returncode})")
            try:
                reply = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RunnerDied("the student's process broke the grading protocol") from exc
            if isinstance(reply, dict):
                self.events += [e for e in reply.pop("events", []) if isinstance(e, str) and e not in self.events]
                return reply

    def request(self, message: dict, timeout: float) -> dict:
        """Send one request; on a timeout interrupt the student's code, on a death restart (and replay)."""
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            return self._read(timeout)
        except RunnerTimeout:
            self.interrupt()
            try:
                self._read(10)  # the interrupted request's own reply
            except (RunnerTimeout, RunnerDied):
                self.restart()
            raise
        except (BrokenPipeError, RunnerDied) as exc:
            self.restart()
            raise RunnerDied(str(exc)) from exc

    def interrupt(self) -> None:
        """Ctrl-C for the student's code: ``SIGINT`` to the runner (inside bwrap: to bwrap's descendants)."""
        for pid in [self.proc.pid] if self.mode == "none" else descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def restart(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.start()
        self.replay()

    def replay(self) -> None:
        for source in self.history:
            self.proc.stdin.write(json.dumps({"op": "run", "source": source}) + "\n")
            self.proc.stdin.flush()
            self._read(300)

    def run(self, source: str, timeout: float) -> dict:
        """Run one cell: ``{"ok", "outputs", "error"}`` (nbformat outputs)."""
        try:
            reply = self.request({"op": "run", "source": source}, timeout)
        except RunnerTimeout:
            error = {"ename": "TimeoutError", "evalue": f"the cell ran longer than {timeout:g} s", "traceback": []}
            return {"ok": False, "outputs": [{"output_type": "error", **error}], "error": error}
        except RunnerDied as exc:
            error = {"ename": "KernelDied", "evalue": f"{exc}; the cells before it were run again", "traceback": []}
            return {"ok": False, "outputs": [{"output_type": "error", **error}], "error": error}
        if reply.get("ok"):
            self.history.append(source)
        return reply
