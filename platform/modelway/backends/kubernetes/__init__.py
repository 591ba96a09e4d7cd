"""Kubernetes backend: heavy steps as Jobs on the stack's spot GPU node pool (manifests in ``jobs``)."""
