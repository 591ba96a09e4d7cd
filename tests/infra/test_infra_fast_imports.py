"""The render worker's lazy provider sub-packages resolve to the very classes a plain import gives."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_lazy_subpackages_resolve_names_like_the_real_package():
    script = textwrap.dedent("""
        import sys
        from modelway.rendering import fast_imports
        assert fast_imports.install()
        import pulumi_aws as aws
        import pulumi_kubernetes as k8s
        from pulumi_aws.ec2.launch_template import LaunchTemplate
        assert aws.ec2.LaunchTemplate is LaunchTemplate
        assert aws.ec2.LaunchTemplateArgs.__module__ == "pulumi_aws.ec2.launch_template"
        assert aws.iam.GetPolicyDocumentStatementArgs.__module__ == "pulumi_aws.iam._inputs"
        assert callable(aws.ssm.get_parameter_output)
        assert isinstance(k8s.core.v1.Namespace, type) and k8s.core.v1.Namespace.__name__ == "Namespace"
        loaded = sum(1 for m in sys.modules if m.startswith("pulumi_aws.ec2."))
        assert loaded < 10, loaded  # only what was asked for
        assert aws.ec2.InstanceType.__module__ == "pulumi_aws.ec2._enums"
        # `import *` (and dir()) run the package's real __init__: every export appears.
        namespace = {}
        exec("from pulumi_aws.ec2 import *", namespace)
        assert {"Vpc", "SecurityGroup", "LaunchTemplate", "get_vpc_output"} <= set(namespace)
        assert namespace["LaunchTemplate"] is LaunchTemplate
        assert sum(1 for m in sys.modules if m.startswith("pulumi_aws.ec2.")) > 100
        try:
            aws.ec2.NoSuchThing
        except AttributeError:
            pass
        else:
            raise SystemExit("unknown attribute did not raise")
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
