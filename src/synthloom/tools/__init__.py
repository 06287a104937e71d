"""Tools for agentic data: declarations (from Python functions, JSON schemas or OpenAPI documents), the bundled
catalogue, format checks of calls and (``executor``) their execution in the sandbox.

Tool code never runs in the host process: declarations parse source text, and the executor runs it in the jail.
"""

from synthloom.tools.catalogue_loader import ToolCatalogue, UnknownTool, load_catalogue, load_tools
from synthloom.tools.executor import CALL_STATUSES, CallResult, Invocation, ToolExecutor
from synthloom.tools.openapi import tools_from_openapi
from synthloom.tools.spec import Tool, ToolModule, tool_from_function, tool_from_schema, tools_from_module_source
from synthloom.tools.validate import call_problem

__all__ = [
    "CALL_STATUSES",
    "CallResult",
    "Invocation",
    "Tool",
    "ToolCatalogue",
    "ToolExecutor",
    "ToolModule",
    "UnknownTool",
    "call_problem",
    "load_catalogue",
    "load_tools",
    "tool_from_function",
    "tool_from_schema",
    "tools_from_module_source",
    "tools_from_openapi",
]
