"""The MIG geometry tables against ../shared/FACTS.md, and which layouts fit one GPU."""
import pytest

from kfplatform.config.tenant import check_quota_key
from kfplatform.gpu.geometry import MODELS, layout_problems, mig_resource

# FACTS.md "NVIDIA GPU Operator and MIG", transcribed: profile -> (max per GPU, compute, memory slices).
_SEVEN = [(7, 1, 1), (4, 1, 2), (3, 2, 2), (2, 3, 4), (1, 4, 4), (1, 7, 8)]


def _seven(names):
    return {name: geometry for name, geometry in zip(names, _SEVEN)}


FACTS = {
    "A100-40GB": _seven(["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]) | {"1g.5gb+me": (1, 1, 1)},
    "A100-80GB": _seven(["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
    "H100-80GB": _seven(["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
    "H100-NVL": _seven(["1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"]),
    "H200": _seven(["1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]),
    "B200": _seven(["1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"]),
    "A30": {"1g.6gb": (4, 1, 1), "2g.12gb": (2, 2, 2), "4g.24gb": (1, 4, 4)},
}


@pytest.mark.parametrize("model", sorted(FACTS))
def test_profile_tables_match_the_facts(model):
    table = {p.name: (p.max_count, p.compute, p.memory) for p in MODELS[model].profiles}
    for name, geometry in FACTS[model].items():
        assert table.get(name) == geometry, f"{model} {name}"
    # Beyond FACTS only media-extension variants (mig-parted's config-default.yaml), one per GPU.
    for name in set(table) - set(FACTS[model]):
        assert name.endswith("+me") and table[name][0] == 1, name


def test_every_required_model_is_supported_and_slice_totals_are_right():
    assert set(FACTS) <= set(MODELS)
    for name, model in MODELS.items():
        expected = (4, 4) if name == "A30" else (7, 8)
        assert (model.compute_slices, model.memory_slices) == expected, name


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_builtin_layout_of_every_model_fits_one_gpu(model):
    layouts = MODELS[model].builtin_layouts()
    assert "all-disabled" in layouts and "all-balanced" in layouts
    for name, devices in layouts.items():
        assert layout_problems(MODELS[model], devices) == [], f"{model} {name}"


def test_all_balanced_is_two_1g_one_2g_one_3g_on_seven_slice_gpus():
    for name, model in MODELS.items():
        if name == "A30":
            assert dict(model.balanced) == {"1g.6gb": 2, "2g.12gb": 1}
            continue
        sizes = sorted((model.by_name[p].compute, count) for p, count in model.balanced.items())
        assert sizes == [(1, 2), (2, 1), (3, 1)], name


@pytest.mark.parametrize(
    "model, devices, expected",
    [
        ("A100-80GB", {"1g.10gb": 8}, "'1g.10gb' x8 exceeds the 7 instance(s)"),
        ("A100-80GB", {"2g.20gb": 3, "1g.10gb": 2}, "needs 8 compute slices"),  # each within its max
        ("A100-80GB", {"3g.40gb": 1, "1g.20gb": 3}, "needs 10 memory slices"),  # compute 6 is fine
        ("A100-40GB", {"1g.10gb": 4, "1g.5gb": 1}, "needs 9 memory slices"),  # 1g.10gb is 2 slices there
        ("A100-80GB", {"2g.10gb": 1}, "profile '2g.10gb' does not exist on A100-80GB"),
        ("H200", {"1g.10gb": 1}, "profile '1g.10gb' does not exist on H200"),
        ("A30", {"2g.12gb": 2, "1g.6gb": 1}, "needs 5 compute slices"),
        ("A30", {"7g.40gb": 1}, "does not exist on A30"),
        ("B200", {"7g.180gb": 1, "1g.23gb": 1}, "needs 8 compute slices"),
        ("H100-NVL", {"1g.12gb+me": 2}, "exceeds the 1 instance(s)"),
    ],
)
def test_known_invalid_layouts_are_refused_naming_the_profile(model, devices, expected):
    problems = layout_problems(MODELS[model], devices)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "model, devices",
    [
        ("A100-80GB", {"4g.40gb": 1, "3g.40gb": 1}),  # 4g + 3g: valid on drivers >= R510
        ("A100-80GB", {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}),
        ("A100-40GB", {"1g.10gb": 2, "1g.5gb": 3}),  # 5 compute, 7 memory
        ("A30", {"2g.12gb": 1, "1g.6gb": 2}),
        ("H200", {"7g.141gb": 1}),
    ],
)
def test_valid_mixed_layouts_fit(model, devices):
    assert layout_problems(MODELS[model], devices) == []


def test_resource_names_write_plus_as_dot_and_tenant_quotas_accept_every_one():
    assert mig_resource("1g.5gb+me") == "nvidia.com/mig-1g.5gb.me"
    for model in MODELS.values():
        for profile in model.profiles:
            assert check_quota_key(f"requests.{profile.resource}") is None, profile.resource


def test_device_ids_are_unique_per_model():
    seen = {}
    for model in MODELS.values():
        assert model.device_ids, model.name
        for device in model.device_ids:
            assert device not in seen, f"{device} in {seen.get(device)} and {model.name}"
            seen[device] = model.name
