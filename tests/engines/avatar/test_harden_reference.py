"""Issue 16, the last reference gaps on the avatar side: the official wav2vec2-base-960h file has no
``masked_spec_embed`` (it loads; that key alone may be absent, and a message naming missing keys is formatted, not
crashed on), and the CLIP tower's MLP width comes from the tensors (a non-integer hidden/MLP ratio loads). The tiny
files' key sets are audited in tests/core/test_harden_keysets.py."""
from dataclasses import replace

import pytest
import torch

from core.engines.avatar import weights as AW
from core.errors import BadInputError
from core.wan import image, keymaps
from core.wan.audio import Wav2Vec


@pytest.fixture(scope="module")
def wav2vec_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w2v") / AW.WAV2VEC
    AW._save_wav2vec(folder)
    return folder


def test_the_official_wav2vec_layout_loads_without_masked_spec_embed(wav2vec_folder):
    encoder = Wav2Vec.load(wav2vec_folder)
    state = torch.load(wav2vec_folder / "pytorch_model.bin", weights_only=True)
    torch.testing.assert_close(encoder.model.encoder.layer_norm.weight, state["wav2vec2.encoder.layer_norm.weight"])
    features = encoder(torch.randn(16000).numpy())
    assert features.shape[0] == 1 and features.shape[2] == AW.TINY_WAV2VEC["hidden_size"]


def test_only_masked_spec_embed_may_be_absent_and_the_message_names_the_missing_key(wav2vec_folder, tmp_path):
    import shutil

    broken = tmp_path / AW.WAV2VEC
    shutil.copytree(wav2vec_folder, broken)
    state = torch.load(broken / "pytorch_model.bin", weights_only=True)
    del state["wav2vec2.encoder.layer_norm.bias"]
    torch.save(state, broken / "pytorch_model.bin")
    with pytest.raises(BadInputError) as refused:
        Wav2Vec.load(broken)
    assert str(refused.value) == ("wav2vec2-base-960h/pytorch_model.bin: 1 weights missing "
                                  "(wav2vec2.encoder.layer_norm.bias...); the file is incomplete")


def test_missing_keys_are_named_in_official_words_or_ours_never_a_crash():
    """wav2vec2's catch-all prefix rule works backwards (it matched nothing and raised KeyError while formatting);
    a key no rule maps back is named as it is."""
    assert keymaps.WAV2VEC2.to_official("masked_spec_embed") == "wav2vec2.masked_spec_embed"
    assert keymaps.CLIP.to_official("pre_norm.weight") == "visual.pre_norm.weight"
    module = torch.nn.ParameterDict({"extra_bias": torch.nn.Parameter(torch.zeros(2))})
    with pytest.raises(BadInputError, match=r"^x.bin: 1 weights missing \(extra_bias\.\.\.\); the file is "):
        keymaps.load_strict(module, keymaps.UMT5, {}, "x.bin")


def test_clip_mlp_width_is_read_from_the_tensors(tmp_path):
    """A tower whose MLP is 600 wide on 160 channels (ratio 3.75) loads; an integer ratio gave 480 and a mismatch."""
    config = replace(image.TINY, mlp_dim=600)
    tower = image.VisionTower(config)
    state = {f"visual.{k}": v for k, v in tower.state_dict().items()}
    state["log_scale"] = torch.tensor(4.6)
    torch.save(state, tmp_path / "clip.pth")
    loaded = image.load(tmp_path / "clip.pth")
    assert loaded.transformer[0].mlp[0].out_features == 600
    torch.testing.assert_close(loaded.transformer[0].mlp[0].weight, tower.transformer[0].mlp[0].weight)
    assert image.VisionConfig.from_official(state) == config
