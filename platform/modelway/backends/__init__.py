"""Backends: where artifacts, the step cache, models, metrics, alerts and heavy steps go.

``local/`` is the embedded default (this machine), ``aws/`` the provisioned stack's AWS
services (S3, SageMaker, CloudWatch, SNS), ``kubernetes/`` Jobs on the stack's GPU pool.
:func:`modelway.backends.mapping.backends_for` is the one place that maps a stack's
outputs (or none) to a set of backends; nothing else asks "is there a stack?".
"""
