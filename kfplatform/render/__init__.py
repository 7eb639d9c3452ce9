"""The offline render: run the program under Pulumi's mocks and write what it declares."""
from .run import RenderResult, RegisteredResource, render_stack

__all__ = ["RenderResult", "RegisteredResource", "render_stack"]
