# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Lambda Cloud instance type says about its GPUs and CPU architecture.

The inventory (groups, hostvars), the modules and the node-label logic all read GPU facts from
here, so a new instance type is taught to the collection in one place.
"""

from __future__ import annotations

import re

# GPU models whose hosts are ARM (Grace CPUs). Every other Lambda type is x86_64.
_ARM64_GPU_MODELS = frozenset(("gh200", "gb200", "gb300"))

# "gpu_8x_h100_sxm5" -> count 8, model "h100"; "gpu_1x_a100_80gb_sxm4" -> 1, "a100".
_TYPE_NAME = re.compile(r"^gpu_(?P<count>\d+)x_(?P<model>[a-z]+\d+[a-z]*)")
_MEMORY = re.compile(r"(?P<size>\d+)\s*GB", re.IGNORECASE)


# Words in a GPU label that name the vendor, the product line, the memory or the form factor
# rather than the model: Lambda's labels ('H100 (80 GB SXM5)') and nvidia-smi's names
# ('NVIDIA H100 80GB HBM3', 'NVIDIA A100-SXM4-80GB', 'Quadro RTX 6000') give the same model.
_NOT_MODEL = re.compile(r"\b(?:nvidia|tesla|quadro|\d+\s*gb|sxm\d*|pcie|nvl\d*|hbm\d*e?|generation)\b")
# nvidia-smi says 'NVIDIA RTX A6000' where Lambda says 'A6000'; 'RTX 6000' itself is a model.
_RTX_BEFORE_AMPERE = re.compile(r"\brtx\s+(?=a\d)")

# NVIDIA architecture of each GPU model. The open kernel modules need Turing or newer (NVIDIA's
# driver README, "Kernel Modules"); Grace Hopper and Blackwell systems run only on them, and this
# collection asks for them on every Hopper part, where NVIDIA recommends them.
_GPU_ARCHITECTURES = {
    "v100": "volta",
    "rtx6000": "turing",
    "a10": "ampere", "a100": "ampere", "a6000": "ampere", "a40": "ampere",
    "rtx6000ada": "ada", "l40": "ada", "l40s": "ada",
    "h100": "hopper", "h200": "hopper", "gh200": "hopper",
    "b200": "blackwell", "b300": "blackwell", "gb200": "blackwell", "gb300": "blackwell",
}
_OPEN_MODULES_UNSUPPORTED = frozenset(("volta",))

# Memory per GPU (GiB, as Lambda's labels give it) of the models in Lambda's catalogue. Used only when
# neither the type's labels nor its name say it: the inventory and the node labels often know a type by
# its name alone ("gpu_8x_h100_sxm5"), and a type must not lose its memory label for that. A name that
# states the memory ("gpu_8x_a100_80gb_sxm4") wins over this table.
_GPU_MEMORY_GIB = {
    "v100": 16,
    "rtx6000": 24, "a10": 24,
    "a100": 40, "a6000": 48,
    "h100": 80, "gh200": 96,
    "b200": 180,
}
_OPEN_MODULES_REQUIRED = frozenset(("hopper", "blackwell"))


def gpu_model_from_description(gpu_description: str | None) -> str | None:
    """'H100 (80 GB SXM5)' -> 'h100'; 'Tesla V100 (16 GB)' -> 'v100'; 'RTX 6000 (24 GB)' -> 'rtx6000'.

    Labels written without parentheses ('NVIDIA H100 80GB SXM5') give the same model.
    """
    if not gpu_description or gpu_description.strip().upper() in ("N/A", "NONE", ""):
        return None
    label = gpu_description.split("(")[0].strip().lower()
    label = _RTX_BEFORE_AMPERE.sub("", _NOT_MODEL.sub(" ", label))
    label = re.sub(r"[^a-z0-9]", "", label)
    return label or None


def gpu_facts(instance_type: dict | None) -> dict:
    """GPU model, count, memory per GPU (GiB, as Lambda labels it) and CPU architecture.

    Works from the API's instance_type object ({name, description, gpu_description, specs}),
    tolerating missing fields: a type the collection has never seen still gets sensible facts.
    """
    instance_type = instance_type or {}
    name = str(instance_type.get("name") or "")
    specs = instance_type.get("specs") or {}
    from_name = _TYPE_NAME.match(name)

    model = gpu_model_from_description(instance_type.get("gpu_description"))
    if model is None and from_name:
        model = from_name.group("model")

    count = specs.get("gpus")
    if not isinstance(count, int):
        count = int(from_name.group("count")) if from_name else 0
    if model is None:
        count = 0

    memory = None
    for text in (instance_type.get("gpu_description"), instance_type.get("description"), name.replace("_", " ")):
        found = _MEMORY.search(text or "")
        if found:
            memory = int(found.group("size"))
            break
    if memory is None:
        memory = _GPU_MEMORY_GIB.get(model or "")

    return {
        "gpu_model": model,
        "gpu_count": count,
        "gpu_memory_gib": memory if model else None,
        "arch": "arm64" if model in _ARM64_GPU_MODELS else "x86_64",
    }


def gpu_architecture(gpu_model: str | None) -> str | None:
    """'h100' -> 'hopper', 'a10' -> 'ampere'; None for a CPU type or a model the collection does not know."""
    return _GPU_ARCHITECTURES.get(gpu_model or "")


def open_kernel_modules(gpu_model: str | None) -> str:
    """Whether the GPU needs NVIDIA's open kernel modules: 'required', 'supported', 'unsupported' or 'unknown'."""
    architecture = gpu_architecture(gpu_model)
    if architecture is None:
        return "unknown"
    if architecture in _OPEN_MODULES_REQUIRED:
        return "required"
    if architecture in _OPEN_MODULES_UNSUPPORTED:
        return "unsupported"
    return "supported"
