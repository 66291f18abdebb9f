# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Attributes of the modules that only read a node's state (k3s_node_info, k3s_token_exposure_info).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: The module only reads, so it runs normally in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff to show.
    support: none
  platform:
    description: Linux nodes (the module reads C(/proc) and asks systemd).
    support: full
    platforms: posix
"""
