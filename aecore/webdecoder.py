"""A trained decoder as data a browser can run: the layer list and the weights, no Keras needed to read it.

The interactive pages decode in the browser where they can (a slider drag or a
mouse move then paints a new image in a few milliseconds, with no round trip to
the server). `decoder_spec(decoder)` describes a Keras decoder as a small dict:

    {"format": "aecore-decoder/1", "input_dim": 2, "output_shape": [28, 28, 1],
     "layers": [{"type": "dense", "units": 3136, "activation": "elu",
                 "kernel": [offset, shape], "bias": [offset, shape]}, ...],
     "weights": "<base64 of little-endian float32, every array back to back>"}

Layer types: dense, reshape, conv2d_transpose, conv2d (stride, "same"/"valid"
padding), upsampling2d (nearest), scale_shift (a BatchNormalization folded
into one multiply-add), activation; activations: linear, relu, elu, sigmoid,
tanh, gelu (exact, with erf), softplus. A decoder with any other layer gives
`UnsupportedDecoder`, and the page then decodes on the server as before.

`run_spec(spec, z)` runs a spec with NumPy. It is the reference the browser's
decoder (`browser_decode.js`, TensorFlow.js) is tested against, and it is
tested itself against the Keras decoder, so the three agree.
"""

from __future__ import annotations

import base64
import math

import numpy as np

FORMAT = "aecore-decoder/1"
ACTIVATIONS = ("linear", "relu", "elu", "sigmoid", "tanh", "gelu", "softplus")
MAX_WEIGHTS = 2_000_000  # floats (8 MB, sent once per model and session); larger decoders decode on the server


class UnsupportedDecoder(ValueError):
    """The decoder has a layer (or a setting) the browser decoder does not implement."""


def _activation_name(layer) -> str:
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", "linear") if fn is not None else "linear"
    if name not in ACTIVATIONS:
        raise UnsupportedDecoder(f"Expected an activation in {ACTIVATIONS}, received {name!r} in layer "
                                 f"{layer.name!r}.")
    return name


def decoder_spec(decoder) -> dict:
    """Describe a Keras decoder (a functional `keras.Model`, code -> image) for the browser.

    Args:
        decoder: the model's decoder, e.g. `engine.model.decoder`; its layers must be a chain.

    Returns:
        The spec dict (see the module doc); JSON-serialisable.

    Raises:
        UnsupportedDecoder: a layer type, activation, padding or data format the browser decoder lacks, or more
            than MAX_WEIGHTS weights.
    """
    import keras

    layers, arrays = [], []
    offset = 0

    def put(a) -> list:
        nonlocal offset
        a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
        arrays.append(a.ravel())
        ref = [offset, list(a.shape)]
        offset += a.size
        return ref

    for layer in decoder.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedDecoder(f"Expected channels_last layers, received {layer.data_format} in "
                                     f"{layer.name!r}.")
        if kind == "Dense":
            kernel = layer.kernel.numpy()
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(layer.units, np.float32)
            layers.append({"type": "dense", "units": int(layer.units), "activation": _activation_name(layer),
                           "kernel": put(kernel), "bias": put(bias)})
        elif kind == "Reshape":
            layers.append({"type": "reshape", "shape": [int(d) for d in layer.target_shape]})
        elif kind in ("Conv2DTranspose", "Conv2D"):
            if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
                raise UnsupportedDecoder(f"Expected no dilation or groups, received {layer.name!r} with them.")
            if layer.padding not in ("same", "valid"):
                raise UnsupportedDecoder(f"Expected padding 'same' or 'valid', received {layer.padding!r}.")
            if kind == "Conv2DTranspose" and getattr(layer, "output_padding", None) is not None:
                raise UnsupportedDecoder(f"Expected no output_padding, received it in {layer.name!r}.")
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(layer.filters, np.float32)
            layers.append({"type": "conv2d_transpose" if kind == "Conv2DTranspose" else "conv2d",
                           "strides": [int(s) for s in layer.strides], "padding": layer.padding,
                           "activation": _activation_name(layer), "kernel": put(layer.kernel.numpy()),
                           "bias": put(bias)})
        elif kind == "UpSampling2D":
            if layer.interpolation != "nearest":
                raise UnsupportedDecoder(f"Expected nearest up-sampling, received {layer.interpolation!r}.")
            layers.append({"type": "upsampling2d", "size": [int(s) for s in layer.size]})
        elif kind == "BatchNormalization":
            gamma = layer.gamma.numpy() if layer.scale else 1.0
            beta = layer.beta.numpy() if layer.center else 0.0
            scale = gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
            shift = beta - layer.moving_mean.numpy() * scale
            n = layer.moving_mean.shape[0]
            layers.append({"type": "scale_shift", "scale": put(np.broadcast_to(scale, (n,))),
                           "shift": put(np.broadcast_to(shift, (n,)))})
        elif kind == "Activation":
            layers.append({"type": "activation", "activation": _activation_name(layer)})
        else:
            raise UnsupportedDecoder(f"Expected decoder layers of the types the browser runs (Dense, Reshape, "
                                     f"Conv2D, Conv2DTranspose, UpSampling2D, BatchNormalization, Activation), "
                                     f"received {kind} ({layer.name!r}).")
    if offset > MAX_WEIGHTS:
        raise UnsupportedDecoder(f"Expected at most {MAX_WEIGHTS:,} decoder weights to send to a browser, "
                                 f"received {offset:,}.")
    weights = np.concatenate(arrays) if arrays else np.zeros(0, "<f4")
    return {"format": FORMAT, "input_dim": int(decoder.input_shape[-1]),
            "output_shape": [int(d) for d in decoder.output_shape[1:]], "layers": layers,
            "weights": base64.b64encode(weights.astype("<f4").tobytes()).decode("ascii")}


# --- the NumPy reference ----------------------------------------------------------------------------------
def _activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "gelu":
        erf = np.vectorize(math.erf, otypes=[np.float64])
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))
    if name == "softplus":
        return np.logaddexp(0, x)
    return x


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _conv2d(x, w, strides, padding):
    n, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    sh, sw = strides
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pad(h, kh, sh), _same_pad(wd, kw, sw)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            out += patch @ w[i, j]
    return out


def _conv2d_transpose(x, w, strides, padding):
    n, h, wd, _ = x.shape
    kh, kw, f, _ = w.shape  # Keras: (kh, kw, filters out, channels in)
    sh, sw = strides
    full = np.zeros((n, (h - 1) * sh + kh, (wd - 1) * sw + kw, f))
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + sh * (h - 1) + 1:sh, j:j + sw * (wd - 1) + 1:sw, :] += x @ w[i, j].T
    if padding == "valid":
        return full
    oh, ow = h * sh, wd * sw
    top, left = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
    return full[:, top:top + oh, left:left + ow, :]


def run_spec(spec: dict, z) -> np.ndarray:
    """Decode codes with a spec, in NumPy (float64): the reference for the browser decoder.

    Args:
        spec: a `decoder_spec` result (or its JSON round trip).
        z: codes (N, input_dim) or one code (input_dim,).

    Returns:
        Images (N, *output_shape) as float32.
    """
    if spec.get("format") != FORMAT:
        raise ValueError(f"Expected a spec of format {FORMAT!r}, received {spec.get('format')!r}.")
    x = np.atleast_2d(np.asarray(z, np.float64))
    if x.shape[1] != spec["input_dim"]:
        raise ValueError(f"Expected codes of length {spec['input_dim']}, received shape {x.shape}.")
    flat = np.frombuffer(base64.b64decode(spec["weights"]), dtype="<f4").astype(np.float64)

    def get(ref):
        start, shape = ref
        return flat[start:start + int(np.prod(shape))].reshape(shape)

    for layer in spec["layers"]:
        t = layer["type"]
        if t == "dense":
            x = x @ get(layer["kernel"]) + get(layer["bias"])
        elif t == "reshape":
            x = x.reshape(len(x), *layer["shape"])
        elif t == "conv2d":
            x = _conv2d(x, get(layer["kernel"]), layer["strides"], layer["padding"]) + get(layer["bias"])
        elif t == "conv2d_transpose":
            x = _conv2d_transpose(x, get(layer["kernel"]), layer["strides"], layer["padding"]) + get(layer["bias"])
        elif t == "upsampling2d":
            x = x.repeat(layer["size"][0], axis=1).repeat(layer["size"][1], axis=2)
        elif t == "scale_shift":
            x = x * get(layer["scale"]) + get(layer["shift"])
        if "activation" in layer:
            x = _activate(x, layer["activation"])
    return x.astype(np.float32)
