"""The "Open in Colab" badge and the Colab-only setup cell that every notebook starts with."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers.teach.notebooks import committed_notebooks

DEFAULT_REPO = "diffusion-course/diffusion-models-course"
BRANCH = "main"
REPO_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")  # GitHub's OWNER/NAME, matched whole
# The repository as written in badges (colab.research.google.com/github/OWNER/NAME/blob/) and in setup
# cells (git+https://github.com/OWNER/NAME.git@); links to other repositories are left alone.
_REPO_IN_TEXT = re.compile(
    r"(?<=colab\.research\.google\.com/github/)[\w.-]+/[\w.-]+(?=/blob/)"
    r"|(?<=git\+https://github\.com/)[\w.-]+/[\w.-]+?(?=\.git@)"
)


def badge(path: str, repo: str = DEFAULT_REPO) -> str:
    """Markdown for the badge that opens the notebook at ``path`` (relative to the repo root) in Colab."""
    url = f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/{path}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_cell(repo: str = DEFAULT_REPO) -> str:
    """Code that, on Colab only, installs the course without touching Colab's torch and enables widgets."""
    return f"""# Setup: on Colab this installs the course; on your machine it does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    url = "git+https://github.com/{repo}.git@{BRANCH}"
    # Colab's own torch meets the course's requirement, so pip keeps it.
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"diffusion-course[colab] @ {{url}}"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()  # ipywidgets 8 needs it on Colab"""


def point_at(repo: str, root: Path = Path(".")) -> list[Path]:
    """Rewrite every notebook's badge and setup cell to point at ``repo``; return the files changed."""
    if not REPO_PATTERN.fullmatch(repo):
        raise ValueError(
            f"{repo!r} is not a GitHub repository name; write it as OWNER/NAME, e.g. my-school/diffusion-course."
        )
    changed = []
    for path in committed_notebooks(root):
        text = path.read_text(encoding="utf-8")
        new = _REPO_IN_TEXT.sub(repo, text)
        if new != text:
            json.loads(new)  # still a valid notebook
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
