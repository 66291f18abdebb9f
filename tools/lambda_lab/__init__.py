# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local lab: the Lambda Cloud API emulator (lambda_emulator) with a node container behind every instance.

``lambda-k3s lab up|down|status|env`` drives it (docs/lab.md); ``python -m lambda_lab serve <lab.yml>`` is its
emulator process.
"""
