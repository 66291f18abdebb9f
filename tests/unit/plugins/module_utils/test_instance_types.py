"""gpu_facts(): the one place GPU model, count, memory and CPU architecture are derived from an instance type."""

from __future__ import annotations

import pytest
from lambda_emulator import default_instance_types

from ansible_collections.sophia.lambda_k3s.plugins.module_utils.instance_types import (
    gpu_architecture,
    gpu_facts,
    gpu_model_from_description,
    open_kernel_modules,
)

# Every type of the captured catalogue: (model, count, memory per GPU in GiB, arch).
EXPECTED = {
    "gpu_1x_gh200": ("gh200", 1, 96, "arm64"),
    "gpu_8x_b200_sxm6": ("b200", 8, 180, "x86_64"),
    "gpu_8x_h100_sxm5": ("h100", 8, 80, "x86_64"),
    "gpu_4x_h100_sxm5": ("h100", 4, 80, "x86_64"),
    "gpu_2x_h100_sxm5": ("h100", 2, 80, "x86_64"),
    "gpu_1x_h100_sxm5": ("h100", 1, 80, "x86_64"),
    "gpu_1x_h100_pcie": ("h100", 1, 80, "x86_64"),
    "gpu_8x_a100_80gb_sxm4": ("a100", 8, 80, "x86_64"),
    "gpu_8x_a100": ("a100", 8, 40, "x86_64"),
    "gpu_4x_a100": ("a100", 4, 40, "x86_64"),
    "gpu_2x_a100": ("a100", 2, 40, "x86_64"),
    "gpu_1x_a100_sxm4": ("a100", 1, 40, "x86_64"),
    "gpu_1x_a100": ("a100", 1, 40, "x86_64"),
    "gpu_1x_a10": ("a10", 1, 24, "x86_64"),
    "gpu_4x_a6000": ("a6000", 4, 48, "x86_64"),
    "gpu_2x_a6000": ("a6000", 2, 48, "x86_64"),
    "gpu_1x_a6000": ("a6000", 1, 48, "x86_64"),
    "gpu_1x_rtx6000": ("rtx6000", 1, 24, "x86_64"),
    "gpu_8x_v100": ("v100", 8, 16, "x86_64"),
    "cpu_4x_general": (None, 0, None, "x86_64"),
}


def test_expectations_cover_the_whole_catalogue():
    assert set(EXPECTED) == set(default_instance_types())


@pytest.mark.parametrize("type_name", sorted(EXPECTED))
def test_catalogue_types(type_name):
    model, count, memory, arch = EXPECTED[type_name]
    assert gpu_facts(default_instance_types()[type_name]) == {
        "gpu_model": model, "gpu_count": count, "gpu_memory_gib": memory, "arch": arch}


@pytest.mark.parametrize("type_name", sorted(name for name in EXPECTED if name.startswith("gpu_")))
def test_the_type_name_alone_gives_model_and_count(type_name):
    """An instance type object reduced to its name (an unknown or trimmed answer) still yields the model."""
    model, count, _memory, arch = EXPECTED[type_name]
    facts = gpu_facts({"name": type_name})
    assert (facts["gpu_model"], facts["gpu_count"], facts["arch"]) == (model, count, arch)


@pytest.mark.parametrize("type_name", sorted(EXPECTED))
def test_the_type_name_alone_gives_every_fact_the_labels_use(type_name):
    """The node labels often know a type by its name only (a static inventory, a trimmed answer): every
    type of the catalogue, gpu_8x_h100_sxm5 included, still gets its GPU memory from its name."""
    assert gpu_facts({"name": type_name}) == gpu_facts(default_instance_types()[type_name])


@pytest.mark.parametrize("type_name", sorted(name for name in EXPECTED if name.startswith("gpu_")))
def test_every_gpu_type_carries_model_count_and_memory(type_name):
    facts = gpu_facts(default_instance_types()[type_name])
    assert facts["gpu_model"] and facts["gpu_count"] > 0 and facts["gpu_memory_gib"] > 0


def test_a_name_that_states_the_memory_wins_over_the_model_table():
    assert gpu_facts({"name": "gpu_8x_a100_80gb_sxm4"})["gpu_memory_gib"] == 80
    assert gpu_facts({"name": "gpu_8x_a100"})["gpu_memory_gib"] == 40


@pytest.mark.parametrize("instance_type", [None, {}, {"name": ""}, {"name": "cpu_4x_general", "gpu_description": "N/A"},
                                           {"name": 42, "specs": None, "gpu_description": None}])
def test_missing_or_odd_fields_give_no_gpu(instance_type):
    assert gpu_facts(instance_type) == {"gpu_model": None, "gpu_count": 0, "gpu_memory_gib": None, "arch": "x86_64"}


def test_a_type_the_collection_has_never_seen():
    facts = gpu_facts({"name": "gpu_4x_gb300_nvl72", "description": "4x GB300 (288 GB)",
                       "gpu_description": "NVIDIA GB300 (288 GB)", "specs": {"gpus": 4}})
    assert facts == {"gpu_model": "gb300", "gpu_count": 4, "gpu_memory_gib": 288, "arch": "arm64"}


def test_specs_gpus_wins_over_the_name():
    assert gpu_facts({"name": "gpu_8x_h100_sxm5", "gpu_description": "H100 (80 GB SXM5)", "specs": {"gpus": 4}})["gpu_count"] == 4


def test_a_non_integer_gpu_count_falls_back_to_the_name():
    assert gpu_facts({"name": "gpu_2x_a6000", "specs": {"gpus": "two"}})["gpu_count"] == 2


@pytest.mark.parametrize(("label", "model"), [
    ("H100 (80 GB SXM5)", "h100"),
    ("H100 (80 GB PCIe)", "h100"),
    ("Tesla V100 (16 GB)", "v100"),
    ("RTX 6000 (24 GB)", "rtx6000"),
    ("GH200 (96 GB)", "gh200"),
    ("NVIDIA H100 80GB SXM5", "h100"),
    ("A100 80GB PCIe", "a100"),
    ("NVIDIA GB200 NVL72", "gb200"),
    ("N/A", None),
    ("none", None),
    ("", None),
    (None, None),
])
def test_gpu_model_from_description(label, model):
    assert gpu_model_from_description(label) == model


def test_facts_are_plain_json_values():
    import json

    for instance_type in default_instance_types().values():
        json.dumps(gpu_facts(instance_type))


@pytest.mark.parametrize(("name", "model"), [
    ("NVIDIA H100 80GB HBM3", "h100"),
    ("NVIDIA H100 PCIe", "h100"),
    ("NVIDIA GH200 480GB", "gh200"),
    ("NVIDIA A100-SXM4-80GB", "a100"),
    ("NVIDIA RTX A6000", "a6000"),
    ("Quadro RTX 6000", "rtx6000"),
    ("NVIDIA RTX 6000 Ada Generation", "rtx6000ada"),
    ("Tesla V100-SXM2-16GB", "v100"),
    ("NVIDIA B200", "b200"),
])
def test_nvidia_smi_names_give_the_inventory_model(name, model):
    assert gpu_model_from_description(name) == model


@pytest.mark.parametrize(("model", "architecture", "open_modules"), [
    ("v100", "volta", "unsupported"),
    ("rtx6000", "turing", "supported"),
    ("a10", "ampere", "supported"),
    ("a6000", "ampere", "supported"),
    ("a100", "ampere", "supported"),
    ("h100", "hopper", "required"),
    ("gh200", "hopper", "required"),
    ("b200", "blackwell", "required"),
    ("gb300", "blackwell", "required"),
    ("x9000", None, "unknown"),
    (None, None, "unknown"),
])
def test_gpu_architecture_and_open_kernel_modules(model, architecture, open_modules):
    assert gpu_architecture(model) == architecture
    assert open_kernel_modules(model) == open_modules


def test_every_catalogue_gpu_has_an_architecture():
    models = {gpu_facts(item)["gpu_model"] for item in default_instance_types().values()} - {None}
    assert {model for model in models if gpu_architecture(model) is None} == set()
