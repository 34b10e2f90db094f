# PyInstaller runtime hook: runs in the frozen app before its own code.
# On macOS the app keeps its own files (the demo model) in ~/Library/Application Support/<bundle id>
# instead of ~/.cache/moshi-mlx; Hugging Face models stay in the Hugging Face cache. An explicit
# MOSHI_MLX_HOME wins. The bundle id must equal bundle_info.BUNDLE_ID (tests/packaging checks it).
import os
import sys

BUNDLE_ID = "org.moshimlx.desktop"

if sys.platform == "darwin" and not os.environ.get("MOSHI_MLX_HOME"):
    os.environ["MOSHI_MLX_HOME"] = os.path.join(
        os.path.expanduser("~"), "Library", "Application Support", BUNDLE_ID
    )
