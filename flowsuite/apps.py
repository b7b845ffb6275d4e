from django.apps import AppConfig


class FlowSuiteConfig(AppConfig):
    """The project's shared pieces (live layer, API conventions, status, ops commands)."""

    name = "flowsuite"
    verbose_name = "FlowSuite"
