"""The drill's Restores: one per backup, always a valid object name; which namespaces each restores."""
from __future__ import annotations

import pytest

from kfplatform.backup.velero import TENANTS_RESTORE, VOLUMES_RESTORE, drill_restores, restore_name


def test_long_backup_names_sharing_a_prefix_get_distinct_restores():
    a, b = "kfplatform-tenants-" + "x" * 40 + "-20261201013012", "kfplatform-tenants-" + "x" * 40 + "-20261202013012"
    names = {restore_name(a), restore_name(b)}
    assert len(names) == 2 and all(len(n) <= 63 and n[-1].isalnum() for n in names)
    assert restore_name("kfplatform-tenants-20261201013012") == "drill-kfplatform-tenants-20261201013012"

T, V = "kfplatform-tenants-20261201013012", "kfplatform-tenant-volumes-20261201013013"
PLANS = [
    # (selected namespaces, opted-in teams, volumes backup, [(role, backup, included, excluded)])
    (["a", "b", "c"], ["c"], V, [(TENANTS_RESTORE, T, ("a", "b"), ("c",)), (VOLUMES_RESTORE, V, ("c",), ())]),
    (["a", "b"], ["c"], None, [(TENANTS_RESTORE, T, ("a", "b"), ())]),  # the opted-in team is not selected
    (["a", "b"], [], None, [(TENANTS_RESTORE, T, ("a", "b"), ())]),  # nobody opts in: one Restore
    # Every selected team opts in: no tenants Restore at all (an empty includedNamespaces is EVERY namespace).
    (["c", "d"], ["c", "d"], V, [(VOLUMES_RESTORE, V, ("c", "d"), ())]),
]


@pytest.mark.parametrize("selected,opted_in,volumes,expected", PLANS)
def test_the_drill_restores_opted_in_namespaces_from_the_volumes_backup_only(selected, opted_in, volumes, expected):
    plan = drill_restores(backup=T, volumes_backup=volumes, namespaces=selected, volume_teams=opted_in)
    assert [(r.role, r.backup, r.namespaces, r.excluded) for r in plan] == expected
    for r in plan:
        assert r.spec["includedNamespaces"] and r.spec["backupName"] == r.backup and r.name == f"drill-{r.backup}"
        assert r.spec.get("excludedNamespaces", []) == list(r.excluded)
    restored = [n for r in plan for n in r.namespaces]
    assert sorted(restored) == sorted(set(selected)) and len(restored) == len(set(restored))  # each once


def test_an_opted_in_team_is_never_restored_without_its_volumes_backup():
    with pytest.raises(ValueError, match="c back up their volumes"):
        drill_restores(backup=T, volumes_backup=None, namespaces=["a", "c"], volume_teams=["c"])
