"""Package layout that pyproject.toml cannot express: the policy pack ships as ``modelway.policies``.

The pack's source stays in the top-level ``policies/`` folder (where ``pulumi preview
--policy-pack policies`` finds it in a checkout); the distribution maps that folder to the
``modelway.policies`` package, with its ``PulumiPolicy.yaml``, requirements and env configs,
so ``modelway policy check`` and ``pulumi preview --policy-pack $(modelway policy pack-path)``
work from a plain ``pip install``. Everything else (metadata, dependencies) is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages("platform", include=["modelway", "modelway.*"]), "modelway.policies"],
    package_dir={"": "platform", "modelway.policies": "policies"},
    package_data={"modelway.policies": ["PulumiPolicy.yaml", "requirements.txt", "*.json", "*.txt",
                                        "waivers.example.yaml"]},
    include_package_data=False,
)
