"""Run a submission's kernel inside a bubblewrap sandbox (the sandbox Flatpak uses).

The grader (nbgrader, outside) talks to the kernel (inside) over jupyter_client's ipc transport:
the connection file and the kernel's sockets live in a private folder bound into the sandbox,
because TCP does not cross the sandbox's empty network namespace. Inside, the kernel sees:

* the system (``/usr`` and a few files of ``/etc``), the Python installation, the virtual
  environment and the ``helpers`` package, all read-only;
* a fresh, size-capped, writable HOME (``/tmp/home``, also its TMPDIR) and working folder, both gone
  when it ends; everything else, ``/tmp`` included, is read-only;

and nothing else: not ``solutions/``, the gradebook, ``.git``, the teacher's HOME, other
students' folders, the environment's variables, or the network. Its address space is capped
(``memory_limit``, 4 GiB by default), and every process it starts lives in the sandbox's own
pid namespace, so all of them end with the kernel.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import Integer, List, Unicode

from helpers.paths import cache_dirs

GIB = 1 << 30
MIB = 1 << 20
SANDBOX_UID = 65534  # "nobody", as the kernel sees itself
BWRAP_FIX = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
    "bubblewrap), or pass --no-sandbox to grade without isolation (only for notebooks you trust)"
)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What Python, numpy, torch and matplotlib read from /etc; secrets such as /etc/shadow stay out.
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "mime.types",
    "os-release",
    "alternatives",
    "fonts",
)
# ipykernel's launcher, after capping the address space: argv = [limit, python, -m, ipykernel_launcher, ...]
_LIMIT_THEN_EXEC = """
import errno, os, resource, sys, time
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (n, n))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
# bwrap's new session is a new scheduling group (Linux autogroup): give it the priority this process inherited.
# Without CAP_SYS_ADMIN the kernel takes one autogroup change per 100 ms from the whole system and answers EAGAIN
# to the others (kernel/sched/autogroup.c), so kernels that start together must wait their turn.
for _ in range(200):
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(os.nice(0)))
        break
    except OSError as error:  # EAGAIN: another group changed within 100 ms; anything else: no autogroups here
        if error.errno != errno.EAGAIN:
            break
        time.sleep(0.025)
os.execv(sys.argv[2], sys.argv[2:])
"""


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """Why kernels cannot be sandboxed here (with the fix), or None when bubblewrap works."""
    if not sys.platform.startswith("linux"):
        return (
            f"the grading sandbox needs Linux (bubblewrap); this is {sys.platform}. Grade on a Linux machine "
            "or in WSL 2, or pass --no-sandbox to grade without isolation (only for notebooks you trust)"
        )
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed; {BWRAP_FIX}"
    probe = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/", "true"]
    try:
        run = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap did not start ({error}); {BWRAP_FIX}"
    if run.returncode:
        return (
            f"bubblewrap cannot create a sandbox here: {run.stderr.strip()[:300]}. Enable unprivileged user "
            "namespaces (sudo sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also "
            "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0), or pass --no-sandbox"
        )
    return None


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def read_only_paths(extra: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """What the kernel may read besides the system: the Python installation, the venv, ``helpers``, ``extra``."""
    paths = {Path(p).resolve() for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix)}
    helpers = _package_dir("helpers")
    if helpers is not None:
        paths.add(helpers)
    paths |= {Path(p).resolve() for p in extra if Path(p).exists()}
    # Keep the outermost of nested paths (a venv inside the course needs no separate bind for its lib/).
    return sorted(p for p in paths if not any(q != p and q in p.parents for q in paths))


def _system_binds() -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in ETC_FILES:
        if os.path.lexists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


HOME = "/tmp/home"  # the kernel's HOME and TMPDIR: a fresh tmpfs
# One thread for every graded kernel, whatever the machine, its load or --jobs: a trained model, and so a
# score, must not depend on them (torch sums in another order with another thread count).
FIXED_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ISOLATION = "--unshare-all --unshare-user --disable-userns --cap-drop ALL --die-with-parent --new-session".split()


def kernel_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """All the environment the kernel gets (bwrap clears the rest): no secret of the teacher's reaches it."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME,
        "TMPDIR": HOME,
        "IPYTHONDIR": f"{HOME}/.ipython",
        "MPLCONFIGDIR": f"{HOME}/.matplotlib",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": f"{HOME}/.cache/huggingface",
        "COURSE_CACHE": f"{HOME}/.cache/diffusion-course",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "JPY_PARENT_PID": "1",  # ipykernel polls its parent unless this is 1; the sandbox's pid 1 never goes away
        **FIXED_THREADS,
        **(env or {}),
    }


def _filesystem(cwd: str, ipc_dir: str, scratch_size: int, read_only: list[Path]) -> list[str]:
    """The mounts, in order (later ones cover earlier ones): system, /proc and /dev, scratch, read-only, ipc."""
    args = [
        *_system_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(64 * MIB),
        "--tmpfs",
        "/dev/shm",
        "--tmpfs",
        "/tmp",
        "--size",
        str(scratch_size),
        "--tmpfs",
        HOME,
    ]
    for path in read_only:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", ipc_dir, ipc_dir, "--size", str(scratch_size), "--tmpfs", cwd]
    return args + ["--remount-ro", "/tmp", "--remount-ro", "/", "--chdir", cwd]


def bwrap_command(
    kernel_cmd: list[str],
    cwd: str,
    ipc_dir: str,
    memory_limit: int = 4 * GIB,
    scratch_size: int = 512 * MIB,
    read_only: list[Path] | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The bubblewrap command line that runs ``kernel_cmd`` (an ipykernel) isolated, in the working folder ``cwd``."""
    ids = ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    mounts = _filesystem(cwd, ipc_dir, scratch_size, read_only if read_only is not None else read_only_paths())
    variables = [arg for key, value in kernel_environment(env).items() for arg in ("--setenv", key, value)]
    limited = [kernel_cmd[0], "-c", _LIMIT_THEN_EXEC, str(memory_limit), *kernel_cmd]
    return ["bwrap", *ISOLATION, *ids, *mounts, "--clearenv", *variables, "--", *limited]


def course_cache_dirs() -> list[str]:
    """Built caches the kernel may read (the tiny Stable Diffusion pipeline): those of helpers.paths that exist."""
    return [str(d) for d in cache_dirs() if d.is_dir()]


class SandboxedKernelManager(AsyncKernelManager):
    """A jupyter_client kernel manager whose kernel runs in :func:`bwrap_command`'s sandbox, over ipc."""

    memory_limit = Integer(4 * GIB, help="Address-space limit of the kernel, in bytes.").tag(config=True)
    scratch_size = Integer(512 * MIB, help="Size of the kernel's writable /tmp and working folder.").tag(config=True)
    extra_read_only = List(Unicode(), help="More paths the kernel may read.").tag(config=True)

    def __init__(self, **kwargs) -> None:
        self.ipc_dir = tempfile.mkdtemp(prefix="course-kernel-")
        os.chmod(self.ipc_dir, 0o700)
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", os.path.join(self.ipc_dir, "kernel"))
        kwargs.setdefault("connection_file", os.path.join(self.ipc_dir, "connection.json"))
        super().__init__(**kwargs)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        problem = sandbox_problem()
        if problem:
            raise RuntimeError(f"cannot start a sandboxed kernel: {problem}")
        cmd = super().format_kernel_cmd(extra_arguments)
        cwd = str(Path(self._launch_args.get("cwd") or os.getcwd()).resolve())
        read_only = read_only_paths([*course_cache_dirs(), *self.extra_read_only])
        return bwrap_command(cmd, cwd, self.ipc_dir, self.memory_limit, self.scratch_size, read_only)

    async def _async_pre_start_kernel(self, **kw):
        # SIGINT to the process group would reach bwrap itself; ipykernel interrupts itself on request instead.
        self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            shutil.rmtree(self.ipc_dir, ignore_errors=True)


def describe() -> str:
    """One line on what the sandbox binds, for logs and the doctor."""
    return json.dumps({"read_only": [str(p) for p in read_only_paths(course_cache_dirs())]})
