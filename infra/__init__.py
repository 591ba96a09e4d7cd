"""The Modelway Pulumi program: ComponentResources composed from one typed PlatformConfig.

``__main__.py`` is the program Pulumi runs (``main: infra/`` in Pulumi.yaml); the
components live in modules named after their concern so tests can import them as
``infra.storage``, ``infra.identity``, ...
"""
