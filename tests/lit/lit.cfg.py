# lit configuration: each .kir file's RUN lines call `python -m kiln opt` and FileCheck.
import os
import sys

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".kir"]
config.test_source_root = os.path.dirname(__file__)
config.environment["PYTHONPATH"] = os.path.dirname(os.path.dirname(config.test_source_root))
config.substitutions.append(("%kiln-opt", f"{sys.executable} -m kiln opt"))
config.substitutions.append(("%FileCheck", os.path.join(os.path.dirname(sys.executable), "filecheck")))
