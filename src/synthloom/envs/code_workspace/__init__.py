"""Code workspaces: small bundled Python repositories with test suites, bugs injected into them, and the
``code_workspace`` agent environment in which an agent views, searches and edits the files and runs the tests
in the sandbox (SWE-smith in miniature: Yang et al. 2025, arXiv:2504.21798; SWE-Gym: Pan et al. 2024,
arXiv:2412.21139). See ``docs/methods/swe-mini.md``.
"""

from synthloom.envs.code_workspace.repos import Repo, bundled_repos, is_test_file, load_repo
from synthloom.envs.code_workspace.workspace import (
    CodeWorkspaceEnvironment,
    CodeWorkspaceSession,
    SuiteRun,
    WorkspaceRunFailed,
    observe_suite,
    patch_text,
    run_suite,
    task_problem,
)

__all__ = ["CodeWorkspaceEnvironment", "CodeWorkspaceSession", "Repo", "SuiteRun", "WorkspaceRunFailed", "bundled_repos",
           "is_test_file", "load_repo", "observe_suite", "patch_text", "run_suite", "task_problem"]
