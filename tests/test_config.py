"""Tests for aecore.config: validation messages, JSON round trip, stable keys."""

import pytest

from aecore.config import ModelConfig


def test_json_round_trip_is_exact():
    cfg = ModelConfig(kind="vae", arch="dense", latent_dim=2, beta=0.5, filters=(16, 32), hidden_units=(128, 64))
    back = ModelConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.key() == cfg.key()
    assert isinstance(back.filters, tuple)


def test_key_changes_with_any_field_and_is_stable():
    a = ModelConfig()
    assert a.key() == ModelConfig().key()
    assert len(a.key()) == 16
    keys = {a.key(), a.replace(latent_dim=11).key(), a.replace(seed=1).key(),
            a.replace(dataset_fingerprint="abc").key(), a.replace(noise_level=0.2).key()}
    assert len(keys) == 5


@pytest.mark.parametrize("field,value,fragment", [
    ("latent_dim", 0, "latent_dim an integer in 1..1024"),
    ("kind", "gan", "kind in"),
    ("arch", "rnn", "arch in"),
    ("learning_rate", -1.0, "learning_rate in (0, 1]"),
    ("val_fraction", 1.0, "val_fraction in (0, 1)"),
    ("noise", "pink", "noise in"),
    ("latent_dim", True, "latent_dim an integer"),
    ("channels", 2, "channels None, 1 or 3"),
])
def test_bad_fields_say_expected_and_received(field, value, fragment):
    with pytest.raises(ValueError) as e:
        ModelConfig(**{field: value})
    assert "Expected" in str(e.value) and fragment in str(e.value) and repr(value) in str(e.value)


def test_unknown_fields_and_bad_json_are_rejected():
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        ModelConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="Expected a JSON object"):
        ModelConfig.from_json("{not json")
