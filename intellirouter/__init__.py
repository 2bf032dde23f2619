"""IntelliRouter core: model registry, router, chain engine, conversation memory, RAG manager.

Submodules are imported on demand (``from intellirouter.registry import ModelRegistry``)
so that importing one component never pays for the others.
"""

from intellirouter.errors import IntelliRouterError

__version__ = "0.1.0"
__all__ = ["IntelliRouterError", "__version__"]
