"""The drill's Restore name: one per backup, always a valid object name."""
from __future__ import annotations

from kfplatform.backup.velero import restore_name


def test_long_backup_names_sharing_a_prefix_get_distinct_restores():
    a, b = "kfplatform-tenants-" + "x" * 40 + "-20261201013012", "kfplatform-tenants-" + "x" * 40 + "-20261202013012"
    names = {restore_name(a), restore_name(b)}
    assert len(names) == 2 and all(len(n) <= 63 and n[-1].isalnum() for n in names)
    assert restore_name("kfplatform-tenants-20261201013012") == "drill-kfplatform-tenants-20261201013012"
