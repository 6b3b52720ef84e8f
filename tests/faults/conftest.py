"""The fault suite reuses the delivery tests' shop, stand-ins and SMTP server."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lifecycle" / "delivery"))
