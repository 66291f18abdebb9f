"""A local emulator of the Lambda Cloud API, for tests.

    from lambda_emulator import LambdaEmulator, Fault

    with LambdaEmulator(time_scale=0.01) as emu:
        emu.add_ssh_key("deploy", "ssh-ed25519 AAAAC3Nza... deploy")
        emu.add_fault(Fault.server_error(502, path="/instance-operations/launch", after_side_effect=True))
        ...  # talk to emu.url with "Authorization: Bearer " + emu.api_key

pytest fixtures (lambda_emulator, lambda_emulator_factory, lambda_spec) live in
lambda_emulator.fixtures; the command line entry point is ``python -m lambda_emulator``.
"""

from .catalogue import (
    DEFAULT_IMAGE_FAMILY,
    REGION_DESCRIPTIONS,
    default_capacity,
    default_global_firewall_rules,
    default_images,
    default_instance_types,
    region,
)
from .server import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_API_KEY,
    ApiError,
    EmulatorConfig,
    Fault,
    LambdaEmulator,
    RequestRecord,
)
from .spec import SpecNotFoundError, SpecValidator, SpecViolation, full_spec_path

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEFAULT_API_KEY",
    "DEFAULT_IMAGE_FAMILY",
    "REGION_DESCRIPTIONS",
    "ApiError",
    "EmulatorConfig",
    "Fault",
    "LambdaEmulator",
    "RequestRecord",
    "SpecNotFoundError",
    "SpecValidator",
    "SpecViolation",
    "default_capacity",
    "default_global_firewall_rules",
    "default_images",
    "default_instance_types",
    "full_spec_path",
    "region",
]
