"""aecore: the engine behind the latent-space explorer.

Datasets (`aecore.data`), the five autoencoder kinds (`aecore.models`),
training with live progress (`aecore.train`), the weight cache under
`models/` (`aecore.cache`), fast inference (`aecore.infer`), quality metrics
(`aecore.metrics`) and GIF/MP4 export (`aecore.media`). It never imports
Streamlit; `python -m aecore --help` is its command line.

Importing the package registers the model classes with Keras, which
`keras.saving.load_model(..., safe_mode=True)` needs for exported files.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the models' train_step uses tf.GradientTape
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

from .config import ModelConfig  # noqa: E402

__all__ = ["ModelConfig"]
__version__ = "0.1.0"
