"""The one error type of model export (shared by the graph and the halo exporters)."""


class ExportError(RuntimeError):
    """The model could not be exported; the message says why."""
