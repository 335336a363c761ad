"""aecore: the engine behind the latent-space explorer.

Datasets (`aecore.data`, `aecore.builtin_data`, and users' own images in
`aecore.images` and `aecore.uploads`), the autoencoder kinds
(`aecore.models`), training with live progress (`aecore.train`), the weight
cache under `models/` (`aecore.cache`, `aecore.entry_file`), fast inference
(`aecore.infer`, `aecore.axes`), quality metrics (`aecore.metrics`) and
GIF/MP4 export (`aecore.media`). It never imports
Streamlit; `python -m aecore --help` is its command line.

`import aecore` registers the model classes with Keras, which
`keras.saving.load_model(..., safe_mode=True)` needs for exported files:

    import aecore
    import keras
    model = keras.saving.load_model("model.keras", safe_mode=True)

Importing TensorFlow takes seconds, and the command line checks its flags
before paying for it, so the registration waits for Keras: if Keras is
already imported it happens now, otherwise right after `import keras`
finishes (a one-shot import hook, `_RegisterWhenKerasLoads`).
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the models' train_step uses tf.GradientTape
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

from .config import ModelConfig  # noqa: E402

__all__ = ["ModelConfig"]
__version__ = "0.1.0"


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Imports `aecore.models` (whose classes register themselves) as soon as `keras` has loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # one shot: find keras' real spec without us in the way
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        run_keras = spec.loader.exec_module

        def exec_module(module):
            run_keras(module)
            importlib.import_module("aecore.models")

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    importlib.import_module("aecore.models")
elif not any(isinstance(f, _RegisterWhenKerasLoads) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
