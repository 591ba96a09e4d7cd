"""Modelway's CrossGuard policy pack: the rules of POLICY_CATALOG.md, grouped by concern.

Rules are plain check functions wrapped in ``pulumi_policy`` policies (see :mod:`policies.core`);
:mod:`policies.catalog` lists them all. Only ``policies/__main__.py`` builds the ``PolicyPack``
(its constructor serves gRPC and never returns).

Example:
    >>> from policies.catalog import ALL_POLICIES
    >>> len({p.name for p in ALL_POLICIES}) == len(ALL_POLICIES)
    True
"""
