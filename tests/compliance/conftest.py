from tests.gpu.conftest import Project, issue_at, project  # noqa: F401 - the project-copy fixture, shared
