import sys
from pathlib import Path

# packaging/ is a folder of build scripts, not a package (a `packaging` package would shadow the
# PyPI one): its modules are imported by their own names, as moshi.spec and build.sh do.
PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
if str(PACKAGING) not in sys.path:
    sys.path.insert(0, str(PACKAGING))
