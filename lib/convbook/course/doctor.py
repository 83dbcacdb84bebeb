"""What is wrong with this environment, in plain words: ``python -m convbook.course doctor`` (``make doctor``).

Run it with the Python the notebooks run on, as a file, so that it runs even where ``import convbook`` fails
(``.venv/bin/python lib/convbook/course/doctor.py``, which ``make doctor`` runs; Windows:
``.venv\\Scripts\\python lib\\convbook\\course\\doctor.py``); ``python -m convbook.course doctor`` works too once
numpy imports. Each line starts with ``OK`` or ``PROBLEM``; a problem says
what to do. It looks at:

* the Python version (the book needs ``convbook._release.MIN_PYTHON``);
* whether this Python is a virtual environment's (or Colab's, or a conda environment's);
* convbook: importable, which version, installed from where;
* numpy, matplotlib and torch against the pins of the ``requirements.txt`` found here or in a folder above;
* torch's device: the CPU build, a CUDA build and its GPU, Apple's MPS; an Intel Mac (no torch wheels: Colab);
* JupyterLab in this environment;
* thread settings: ``OMP_NUM_THREADS`` and friends, torch's and the BLAS's thread counts against the cores.

:func:`gather` reads the real environment into an :class:`Environment`; :func:`diagnose` turns any environment (a
faked one in the tests) into the findings. Every import it needs beyond the standard library (convbook, hence
numpy; torch; threadpoolctl) is guarded: a failure is a PROBLEM line, never a traceback. Exit status 1 when any
line is a PROBLEM.

This module is long because it must stand alone: it runs as a file, before anything else of the book imports, so
its reading of the environment and every sentence it says stay in one place.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Run as a file (``python lib/convbook/course/doctor.py``), its own folder must not shadow other modules.
if __name__ == "__main__" and sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]


def _load_release():
    """``convbook/_release.py`` read from its file: it needs nothing installed (``import convbook`` needs numpy)."""
    path = Path(__file__).resolve().parents[1] / "_release.py"
    spec = importlib.util.spec_from_file_location("_convbook_release_for_doctor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_release = _load_release()
MIN_PYTHON, VERSION, python_problem = _release.MIN_PYTHON, _release.VERSION, _release.python_problem

#: The packages whose versions are compared with requirements.txt.
PINNED = ("numpy", "matplotlib", "torch")
#: Thread-count variables that the BLAS libraries and torch read at start.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CUDA_INDEX = "https://download.pytorch.org/whl/cu128"


@dataclass(frozen=True)
class TorchInfo:
    version: str
    cuda_build: str | None = None  # torch.version.cuda: None for the CPU build
    cuda_available: bool = False
    device_name: str = ""
    mps_available: bool = False
    threads: int = 1


@dataclass(frozen=True)
class Environment:
    python: tuple[int, int, int]
    executable: str = "python"
    in_venv: bool = True
    on_colab: bool = False
    conda: bool = False
    system: str = "Linux"  # platform.system(): Linux, Darwin, Windows
    machine: str = "x86_64"  # platform.machine(): x86_64, arm64, AMD64
    convbook: str | None = VERSION  # the importable convbook's version; None: not importable
    convbook_metadata: str | None = VERSION  # what pip recorded when it installed convbook
    convbook_path: str = ""
    packages: dict[str, str | None] = field(default_factory=dict)  # installed versions; None: missing
    torch: TorchInfo | None = None
    jupyter: bool = True
    nvidia_driver: bool = False  # nvidia-smi on the PATH
    cpus: int = 1
    thread_env: dict[str, str] = field(default_factory=dict)
    blas_threads: int | None = None
    errors: dict[str, str] = field(default_factory=dict)  # what failed to import, by topic: "convbook", "torch", ...


@dataclass(frozen=True)
class Finding:
    ok: bool
    topic: str
    message: str

    def line(self) -> str:
        return f"{'OK     ' if self.ok else 'PROBLEM'}  {self.topic}: {self.message}"


# --------------------------------------------------------------------------- reading the environment


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_info(errors: dict) -> TorchInfo | None:
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        # imported here: torch is large and may be missing or broken; the doctor must run (and say so) without it
        import torch

        mps = getattr(torch.backends, "mps", None)
        cuda = torch.cuda.is_available()
        return TorchInfo(
            version=torch.__version__,
            cuda_build=torch.version.cuda,
            cuda_available=cuda,
            device_name=torch.cuda.get_device_name(0) if cuda else "",
            mps_available=bool(mps and mps.is_available()),
            threads=torch.get_num_threads(),
        )
    except Exception as exc:  # a broken install: reported, never raised
        errors["torch"] = f"{type(exc).__name__}: {exc}"
        return None


def _blas_threads(errors: dict) -> int | None:
    try:
        # imported here: threadpoolctl loads NumPy's BLAS to count its threads, which only the doctor needs
        from threadpoolctl import threadpool_info

        counts = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
    except Exception as exc:  # missing or broken: reported, never raised
        errors["threadpoolctl"] = f"{type(exc).__name__}: {exc}"
        return None
    return max(counts) if counts else None


def _convbook(errors: dict):
    """The importable convbook package, or None (why: in ``errors``); it needs numpy, which may be missing."""
    try:
        return importlib.import_module("convbook")
    except Exception as exc:  # reported as a PROBLEM line, never raised
        errors["convbook"] = f"{type(exc).__name__}: {exc}"
        return None


def gather() -> Environment:
    """This process's environment; an import that fails is recorded in ``errors``, never raised."""
    errors: dict[str, str] = {}
    package = _convbook(errors)
    return Environment(
        python=tuple(sys.version_info[:3]),
        executable=sys.executable,
        in_venv=sys.prefix != sys.base_prefix,
        on_colab="google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ,
        conda=bool(os.environ.get("CONDA_PREFIX")),
        system=platform.system(),
        machine=platform.machine(),
        convbook=getattr(package, "__version__", None) if package else None,
        convbook_metadata=_installed("convbook"),
        convbook_path=str(Path(package.__file__).parent) if package else "",
        packages={name: _installed(name) for name in PINNED},
        torch=_torch_info(errors),
        jupyter=importlib.util.find_spec("jupyterlab") is not None,
        nvidia_driver=shutil.which("nvidia-smi") is not None,
        cpus=os.cpu_count() or 1,
        thread_env={k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        blas_threads=_blas_threads(errors),
        errors=errors,
    )


def find_requirements(start: Path, levels: int = 3) -> Path | None:
    """``requirements.txt`` in ``start`` or one of the ``levels`` folders above it."""
    for folder in [start, *list(start.resolve().parents)[:levels]]:
        if (folder / "requirements.txt").is_file():
            return folder / "requirements.txt"
    return None


def read_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file, names in lower case."""
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


# --------------------------------------------------------------------------- what it means


def _venv_bin(env: Environment) -> str:
    return ".venv\\Scripts\\" if env.system == "Windows" else ".venv/bin/"


def _base(version: str) -> str:
    """A version without its local part: '2.13.0+cpu' -> '2.13.0'."""
    return version.split("+")[0]


def diagnose(env: Environment, pins: dict[str, str] | None) -> list[Finding]:
    """Every finding about ``env``; ``pins`` from requirements.txt, or None when there is none to compare with."""
    if not isinstance(env, Environment):
        raise TypeError(f"diagnose: env must be an Environment, got {type(env).__name__}")
    pins = pins or {}
    bin_ = _venv_bin(env)
    install = f"{bin_}pip install -r requirements.txt"
    found: list[Finding] = []

    # Python
    problem = python_problem(env.python)
    have = ".".join(map(str, env.python))
    need = "{}.{}".format(*MIN_PYTHON)
    found.append(Finding(not problem, "Python", problem or f"{have} (the book needs {need} or later)"))

    # a virtual environment
    if env.in_venv or env.on_colab or env.conda:
        where = "Colab" if env.on_colab else "a conda environment" if env.conda and not env.in_venv else env.executable
        found.append(Finding(True, "environment", f"running in {where}"))
    else:
        # the version by name: Ubuntu 22.04's python3 is 3.10, macOS's is Apple's 3.9; Windows' py -3 is the newest
        need = "{}.{}".format(*MIN_PYTHON)
        make = "py -3 -m venv .venv" if env.system == "Windows" else f"python{need} -m venv .venv"
        make += " (after py --list shows a 3.11 or newer)" if env.system == "Windows" else " (or a newer python3.x)"
        found.append(
            Finding(
                False,
                "environment",
                f"{env.executable} is not a virtual environment's Python, so packages would go into the system's. "
                f"In the book's folder: {make}, then {install}, and start {bin_}jupyter lab "
                "(or activate it first: "
                + (".venv\\Scripts\\activate" if env.system == "Windows" else "source .venv/bin/activate")
                + ")",
            )
        )

    # convbook
    if env.convbook is None:
        why = f" ({env.errors['convbook']})" if env.errors.get("convbook") else ""
        found.append(
            Finding(False, "convbook", f"not importable{why}: in the book's folder run {install} (or pip install -e .)")
        )
    elif env.convbook_metadata is None:
        found.append(
            Finding(
                False,
                "convbook",
                f"{env.convbook} is importable from {env.convbook_path or 'a folder on the path'} but pip has not "
                f"installed it: in the book's folder run {bin_}pip install -e .",
            )
        )
    elif env.convbook_metadata != env.convbook:
        found.append(
            Finding(
                False,
                "convbook",
                f"the code is version {env.convbook} but pip recorded {env.convbook_metadata} when it installed it: "
                f"reinstall it with {bin_}pip install -e . in the book's folder",
            )
        )
    else:
        found.append(
            Finding(True, "convbook", f"{env.convbook}" + (f" from {env.convbook_path}" if env.convbook_path else ""))
        )

    # numpy, matplotlib, torch against the pins
    intel_mac = env.system == "Darwin" and env.machine == "x86_64"
    for name in PINNED:
        version, pin = env.packages.get(name), pins.get(name)
        if version is None:
            if name == "torch" and intel_mac:
                message = (
                    f"not installed, and PyTorch publishes no build of torch {pin or 'this version'} for Intel Macs: "
                    "use Colab (README, 'Run it elsewhere')"
                )
            elif name == "torch" and env.system == "Linux" and not env.nvidia_driver:
                message = (
                    f"not installed: install the small CPU build first, {bin_}pip install torch=={pin or '<pin>'} "
                    f"--index-url {CPU_INDEX}, then {install}"
                )
            else:
                message = f"not installed: {install}"
            found.append(Finding(False, name, message))
        elif pin and _base(version) != _base(pin):
            found.append(
                Finding(
                    False,
                    name,
                    f"{version} is installed but the book is tested with {pin}: {install} "
                    "(other versions may print other numbers and fail the self-checks)",
                )
            )
        else:
            note = "" if pin else " (no requirements.txt here to compare with: run this in the book's folder)"
            found.append(Finding(True, name, version + note))

    # torch's device
    torch = env.torch
    if env.errors.get("torch"):
        found.append(
            Finding(
                False,
                "device",
                f"torch is installed but does not import ({env.errors['torch']}): reinstall it, "
                f"{bin_}pip install --force-reinstall torch=={pins.get('torch', '<pin>')} (the README's line for "
                "your system), then run this again",
            )
        )
    elif torch is not None:
        if torch.cuda_build and torch.cuda_available:
            found.append(Finding(True, "device", f"CUDA {torch.cuda_build} build, GPU: {torch.device_name}"))
        elif torch.cuda_build and env.nvidia_driver:
            found.append(
                Finding(
                    False,
                    "device",
                    f"torch was built for CUDA {torch.cuda_build} and an NVIDIA driver is installed, but torch finds "
                    "no GPU: the driver is probably older than that CUDA; update it (nvidia-smi shows its CUDA "
                    "version) or install the CUDA build that matches it. The notebooks run on the CPU meanwhile",
                )
            )
        elif torch.cuda_build:
            found.append(
                Finding(
                    True,
                    "device",
                    f"the CUDA build of torch with no GPU: the notebooks run on the CPU (the CPU build, {CPU_INDEX}, "
                    "is a much smaller download if you ever reinstall)",
                )
            )
        elif torch.mps_available:
            found.append(Finding(True, "device", "Apple GPU (MPS); float64 checks run on the CPU, which has float64"))
        elif env.nvidia_driver and env.system in ("Linux", "Windows"):
            found.append(
                Finding(
                    False,
                    "device",
                    "torch is the CPU build but an NVIDIA driver is installed: for the GPU, "
                    f"{bin_}pip install torch=={pins.get('torch', torch.version)} --index-url {CUDA_INDEX} "
                    "(pick the CUDA version nvidia-smi allows). Without it every notebook still runs, on the CPU",
                )
            )
        else:
            found.append(Finding(True, "device", "the CPU (every notebook runs on it; no GPU needed)"))

    # JupyterLab
    if env.jupyter or env.on_colab:
        found.append(Finding(True, "JupyterLab", "installed" if env.jupyter else "Colab is the notebook interface"))
    else:
        found.append(
            Finding(False, "JupyterLab", f"not installed in this environment: {install}, then {bin_}jupyter lab")
        )

    # threads
    threads_ok, notes = True, []
    for name, value in env.thread_env.items():
        if not value.strip().isdigit() or int(value) < 1:
            threads_ok = False
            notes.append(f"{name}={value!r} is not a positive whole number: unset it or set it to 1..{env.cpus}")
        elif int(value) > env.cpus:
            threads_ok = False
            notes.append(
                f"{name}={value} asks for more threads than the {env.cpus} cores: set it to at most {env.cpus}"
            )
    counts = {"torch": torch.threads if torch else None, "NumPy's BLAS": env.blas_threads}
    for name, count in counts.items():
        if count is not None and count > env.cpus:
            threads_ok = False
            notes.append(f"{name} uses {count} threads on {env.cpus} cores: threads would compete and timings suffer")
    if env.errors.get("threadpoolctl"):
        threads_ok = False
        notes.append(
            f"NumPy's BLAS threads not counted: threadpoolctl failed ({env.errors['threadpoolctl']}): {install}"
        )
    used = ", ".join(f"{name} {count}" for name, count in counts.items() if count is not None)
    summary = f"{env.cpus} cores; threads: {used or 'not measured'}"
    if threads_ok:
        found.append(Finding(True, "threads", summary + " (the timing cells fix their own thread counts)"))
    else:
        found.append(Finding(False, "threads", summary + ". " + "; ".join(notes)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=None, help="pins to compare with (default: found here)")
    args = parser.parse_args(argv)
    try:
        path = args.requirements or find_requirements(Path.cwd())
        pins = read_pins(path.read_text(encoding="utf-8")) if path else None
        findings = diagnose(gather(), pins)
    except Exception as exc:  # the doctor never ends in a traceback: it says what it could not do
        print(
            f"PROBLEM  doctor: it could not finish ({type(exc).__name__}: {exc}). Recreate the environment "
            "(delete .venv, then the README's set-up lines) and run this again; if it persists, report this line"
        )
        return 1
    for finding in findings:
        print(finding.line())
    problems = sum(not f.ok for f in findings)
    print(f"{problems} problem(s)" + (": fix them from the top, then run this again" if problems else ": all good"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
