"""`make doctor` (convbook.course.doctor): what it tells a student about faked environments, line by line."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from convbook import _release
from convbook.course import doctor
from convbook.course.doctor import Environment, TorchInfo, diagnose

ROOT = Path(__file__).resolve().parents[1]
PINS = doctor.read_pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
GOOD = Environment(
    python=(3, 11, 7),
    executable="/home/s/book/.venv/bin/python",
    convbook_path="/home/s/book/lib/convbook",
    packages={"numpy": PINS["numpy"], "matplotlib": PINS["matplotlib"], "torch": PINS["torch"] + "+cpu"},
    torch=TorchInfo(version=PINS["torch"] + "+cpu", threads=4),
    cpus=4,
    blas_threads=4,
)


def _lines(env: Environment, pins=PINS) -> dict[str, doctor.Finding]:
    return {f.topic: f for f in diagnose(env, pins)}


def test_a_good_environment_is_all_ok():
    findings = diagnose(GOOD, PINS)
    assert all(f.ok for f in findings), [f.line() for f in findings if not f.ok]
    assert [f.topic for f in findings] == [
        "Python", "environment", "convbook", "numpy", "matplotlib", "torch", "device", "JupyterLab", "threads",
    ]  # fmt: skip
    assert findings[0].line().startswith("OK       Python: 3.11.7")


def test_an_old_python_says_what_to_install():
    line = _lines(replace(GOOD, python=(3, 10, 12)))["Python"]
    assert not line.ok and line.line().startswith("PROBLEM  Python: convbook needs Python 3.11 or later")
    assert "python3.11 -m venv .venv" in line.message


def test_no_virtual_environment_linux_and_windows():
    linux = _lines(replace(GOOD, in_venv=False, executable="/usr/bin/python3"))["environment"]
    assert not linux.ok and "python3.11 -m venv .venv" in linux.message and ".venv/bin/pip install" in linux.message
    windows = _lines(replace(GOOD, in_venv=False, system="Windows", machine="AMD64"))["environment"]
    assert "py -3 -m venv .venv" in windows.message and ".venv\\Scripts\\activate" in windows.message
    assert "py --list" in windows.message
    assert ".venv\\Scripts\\jupyter lab" in windows.message
    assert _lines(replace(GOOD, in_venv=False, on_colab=True))["environment"].ok
    assert _lines(replace(GOOD, in_venv=False, conda=True))["environment"].ok


def test_convbook_missing_stale_or_not_installed():
    assert "not importable" in _lines(replace(GOOD, convbook=None))["convbook"].message
    stale = _lines(replace(GOOD, convbook_metadata="0.2.0"))["convbook"]
    assert not stale.ok and f"version {_release.VERSION} but pip recorded 0.2.0" in stale.message
    assert "pip install -e ." in _lines(replace(GOOD, convbook_metadata=None))["convbook"].message


def test_versions_against_the_pins():
    lines = _lines(replace(GOOD, packages={**GOOD.packages, "numpy": "1.26.4", "matplotlib": None}))
    assert not lines["numpy"].ok and f"1.26.4 is installed but the book is tested with {PINS['numpy']}" in (
        lines["numpy"].message
    )
    assert not lines["matplotlib"].ok and "not installed" in lines["matplotlib"].message
    assert lines["torch"].ok  # '+cpu' is the same version
    unpinned = _lines(GOOD, pins=None)["numpy"]
    assert unpinned.ok and "no requirements.txt here" in unpinned.message


def test_torch_missing_on_linux_intel_mac_and_windows():
    no_torch = {**GOOD.packages, "torch": None}
    linux = _lines(replace(GOOD, packages=no_torch, torch=None))["torch"]
    assert not linux.ok and "--index-url https://download.pytorch.org/whl/cpu" in linux.message
    mac = _lines(replace(GOOD, packages=no_torch, torch=None, system="Darwin", machine="x86_64"))["torch"]
    assert not mac.ok and "no build of torch" in mac.message and "Intel Macs" in mac.message and "Colab" in mac.message
    win = _lines(replace(GOOD, packages=no_torch, torch=None, system="Windows"))["torch"]
    assert ".venv\\Scripts\\pip install -r requirements.txt" in win.message


@pytest.mark.parametrize(
    "torch, driver, ok, words",
    [
        (TorchInfo("2.13.0+cu128", "12.8", True, "NVIDIA H100"), True, True, "GPU: NVIDIA H100"),
        (TorchInfo("2.13.0+cu128", "12.8", False), True, False, "driver is probably older"),
        (TorchInfo("2.13.0", "12.8", False), False, True, "run on the CPU"),
        (TorchInfo("2.13.0+cpu"), True, False, "whl/cu128"),
        (TorchInfo("2.13.0", mps_available=True), False, True, "MPS"),
        (TorchInfo("2.13.0+cpu"), False, True, "the CPU"),
    ],
)
def test_torch_device(torch, driver, ok, words):
    line = _lines(replace(GOOD, torch=torch, nvidia_driver=driver))["device"]
    assert line.ok == ok and words in line.message, line.line()


def test_jupyter_missing():
    line = _lines(replace(GOOD, jupyter=False))["JupyterLab"]
    assert not line.ok and "pip install -r requirements.txt" in line.message
    assert _lines(replace(GOOD, jupyter=False, on_colab=True))["JupyterLab"].ok


@pytest.mark.parametrize(
    "change, words",
    [
        ({"thread_env": {"OMP_NUM_THREADS": "16"}}, "OMP_NUM_THREADS=16 asks for more threads than the 4 cores"),
        ({"thread_env": {"MKL_NUM_THREADS": "all"}}, "is not a positive whole number"),
        ({"torch": TorchInfo("2.13.0+cpu", threads=8)}, "torch uses 8 threads on 4 cores"),
        ({"blas_threads": 32}, "NumPy's BLAS uses 32 threads on 4 cores"),
    ],
)
def test_thread_settings(change, words):
    line = _lines(replace(GOOD, **change))["threads"]
    assert not line.ok and words in line.message, line.line()


def test_bad_argument():
    with pytest.raises(TypeError, match="env must be an Environment"):
        diagnose({"python": (3, 11)}, PINS)


def test_read_and_find_requirements(tmp_path):
    assert doctor.read_pins("# c\nnumpy==2.4.6\ntorch == 2.13.0  # x\n-e .\n") == {"numpy": "2.4.6", "torch": "2.13.0"}
    (tmp_path / "requirements.txt").write_text("numpy==1\n")
    (tmp_path / "chapters" / "dilated").mkdir(parents=True)
    assert doctor.find_requirements(tmp_path / "chapters" / "dilated") == tmp_path / "requirements.txt"


@pytest.mark.slow
def test_the_command_reads_this_environment():
    proc = subprocess.run(
        [sys.executable, "-m", "convbook.course", "doctor"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("OK       Python: 3.")
    assert all(line.startswith(("OK       ", "PROBLEM  ")) for line in lines[:-1]), lines
    assert proc.returncode == (1 if any(line.startswith("PROBLEM") for line in lines) else 0)


#: Runs the doctor as ``make doctor`` does (as a file), with the named modules made unimportable first.
HIDE = """import runpy, sys
for name in sys.argv[1].split(","):
    if name:
        sys.modules[name] = None  # import raises ImportError, as in an environment without it
sys.argv = [sys.argv[0]]
runpy.run_path({path!r}, run_name="__main__")
"""


def _doctor_hiding(*names: str) -> subprocess.CompletedProcess:
    script = HIDE.format(path=str(ROOT / "lib" / "convbook" / "course" / "doctor.py"))
    return subprocess.run(
        [sys.executable, "-c", script, ",".join(names)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _only_finding_lines(proc: subprocess.CompletedProcess) -> list[str]:
    lines = proc.stdout.splitlines()
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert lines and all(line.startswith(("OK       ", "PROBLEM  ")) for line in lines[:-1]), lines
    assert proc.returncode == 1 and lines[-1].endswith("fix them from the top, then run this again")
    return lines


@pytest.mark.slow
def test_without_numpy_the_doctor_reports_instead_of_crashing():
    lines = _only_finding_lines(_doctor_hiding("numpy"))
    assert any(line.startswith("PROBLEM  convbook: not importable (") and "numpy" in line for line in lines), lines


@pytest.mark.slow
def test_without_threadpoolctl_the_doctor_reports_instead_of_crashing():
    lines = _only_finding_lines(_doctor_hiding("threadpoolctl"))
    threads = next(line for line in lines if "threads:" in line)
    assert threads.startswith("PROBLEM") and "threadpoolctl failed" in threads


@pytest.mark.slow
def test_without_any_package_the_doctor_still_runs():
    script = ROOT / "lib" / "convbook" / "course" / "doctor.py"
    proc = subprocess.run([sys.executable, "-S", str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = _only_finding_lines(proc)  # -S: no site-packages, so no numpy, convbook, torch or threadpoolctl
    assert lines[0].startswith("OK       Python: 3.")
    assert any(line.startswith("PROBLEM  numpy: not installed") for line in lines)


def test_a_failing_gather_is_a_problem_line(monkeypatch, capsys):
    def broken():
        raise OSError("disk gone")

    monkeypatch.setattr(doctor, "gather", broken)
    assert doctor.main([]) == 1
    assert capsys.readouterr().out.startswith("PROBLEM  doctor: it could not finish (OSError: disk gone)")
