"""Pins on the taggable-types list (policies/taggable.py): which pulumi-aws resources take tags.

The list decides which resources the required-tags rule reads at all: a resource left out is
never checked. The scan is pinned on a small fake provider (the real one is compared in
test_policy_tagging.py). See ``make mutate``.
"""
from __future__ import annotations

from policies import taggable

TAGGED = '''@pulumi.type_token("aws:s3/bucket:Bucket")
class Bucket(pulumi.CustomResource):
    @property
    def tags_all(self):
        ...
@pulumi.type_token("aws:s3/BucketArgs:BucketArgs")
class BucketArgs:
    pass
'''


def test_scan_reads_every_module_that_has_tags_all(tmp_path):
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / "bucket.py").write_text(TAGGED)
    (tmp_path / "iam").mkdir()
    (tmp_path / "iam" / "role.py").write_text('@pulumi.type_token("aws:iam/role:Role")\n'
                                              "class Role(pulumi.CustomResource):\n    pass\n")
    (tmp_path / "top.py").write_text(TAGGED.replace("aws:s3/bucket:Bucket", "aws:x/top:Top"))
    (tmp_path / "iam" / "fn.py").write_text('@pulumi.type_token("aws:iam/fn:Fn")\nclass Fn(pulumi.CustomResource):\n'
                                            "    def tags_all(self): ...\n")
    # only resources (CustomResource classes) of the provider's modules (one folder down) that have tags_all
    assert taggable.scan_pulumi_aws(tmp_path) == {"aws:s3/bucket:Bucket", "aws:iam/fn:Fn"}


def test_the_taggable_list_skips_comments_and_blank_lines():
    assert "aws:s3/bucket:Bucket" in taggable.TAGGABLE_TYPES
    assert all(t.startswith("aws:") and t == t.strip() for t in taggable.TAGGABLE_TYPES)
    lines = taggable.DATA_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and len(taggable.TAGGABLE_TYPES) == len([x for x in lines if x.strip()]) - 1
