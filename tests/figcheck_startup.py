# IPython startup file for `make test-notebooks` (copied into the IPYTHONDIR the Makefile gives the nbval
# kernels): check every figure a notebook shows (convbook.plotting.figcheck) and append problems to the report file.
import os

if os.environ.get("CONVBOOK_FIGURE_REPORT"):
    from convbook.plotting.figcheck import install_ipython_hook

    with open(os.environ["CONVBOOK_FIGURE_REPORT"], "a", encoding="utf-8") as _f:
        _f.write(f"# checked: a kernel started in {os.getcwd()}\n")
    install_ipython_hook(os.environ["CONVBOOK_FIGURE_REPORT"])
