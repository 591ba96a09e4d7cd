"""Content-addressed artifact store and the serializers for step values."""
from modelway.artifacts.store import ArtifactRef, ArtifactStore

__all__ = ["ArtifactRef", "ArtifactStore"]
