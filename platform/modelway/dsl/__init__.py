"""The pipeline DSL: ``@step`` (dsl.step), ``@pipeline`` (dsl.pipeline), settings and DAG validation.

Import the public names from ``modelway`` (``from modelway import step, pipeline``).
"""
