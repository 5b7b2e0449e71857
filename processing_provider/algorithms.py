"""The list of the provider's algorithms.

Algorithm ids (``displacement:<name>``) are a public interface: users'
models and scripts call them, so keep them stable once released.
"""


def algorithm_classes():
    """All algorithm classes of the provider, in toolbox order."""
    return []
