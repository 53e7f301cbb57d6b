from __future__ import annotations

import sys

from dicom_node.cli import main

sys.exit(main())
