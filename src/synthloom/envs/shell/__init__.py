"""The shell (OS) environment: tasks done with bash in the sandbox, judged by a checker on the final work dir
(AgentBench's OS tasks, arXiv:2308.03688; InterCode-Bash, arXiv:2306.14898)."""

from .environment import ShellEnvironment, ShellSession, ShellSetupFailed, format_run, state_listing
from .tasks import KINDS, TASK_SCHEMA, TaskCheck, seed_tasks, task_for_prompt, task_from_written, task_problem, validate_task

__all__ = ["KINDS", "TASK_SCHEMA", "ShellEnvironment", "ShellSession", "ShellSetupFailed", "TaskCheck", "format_run", "seed_tasks",
           "state_listing", "task_for_prompt", "task_from_written", "task_problem", "validate_task"]
