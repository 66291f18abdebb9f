# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m lambda_k3s_cli: the same as the lambda-k3s command."""

import sys

from lambda_k3s_cli.app import main

sys.exit(main())
