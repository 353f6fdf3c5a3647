"""Issue 16, the last reference gaps on the avatar side: the official wav2vec2-base-960h file has no
``masked_spec_embed`` (it loads; that key alone may be absent, and a message naming missing keys is formatted, not
crashed on), the tiny test file holds the official file's key set, and the CLIP tower's MLP width comes from the
tensors (a non-integer hidden/MLP ratio loads)."""
import re
from dataclasses import replace

import pytest
import torch

from core.engines.avatar import weights as AW
from core.errors import BadInputError
from core.wan import image, keymaps
from core.wan.audio import Wav2Vec


def _pattern(key: str) -> str:
    """A key with its layer numbers replaced by N: the tiny file has fewer layers than the official one."""
    return re.sub(r"\.\d+\.", ".N.", key)


def official_wav2vec_keys() -> set[str]:
    """The key set of facebook/wav2vec2-base-960h's pytorch_model.bin: transformers' ``Wav2Vec2ForCTC`` with the
    official config (the library's defaults are wav2vec2-base: group norm on the first conv, 12 layers, vocab 32),
    built on the meta device, in the file's old weight-norm names (``weight_g``/``weight_v``) and without
    ``masked_spec_embed``, which the hub's file lacks (EvelynFan/FaceFormer#3, Omni-Avatar/OmniAvatar#12)."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    with torch.device("meta"):
        model = Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=32))
    return {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                              "weight_v")
            for k in model.state_dict() if k != "wav2vec2.masked_spec_embed"}


@pytest.fixture(scope="module")
def wav2vec_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w2v") / AW.WAV2VEC
    AW._save_wav2vec(folder)
    return folder


def test_the_tiny_wav2vec_file_holds_the_official_key_set(wav2vec_folder):
    tiny = set(torch.load(wav2vec_folder / "pytorch_model.bin", weights_only=True))
    official = official_wav2vec_keys()
    assert "wav2vec2.masked_spec_embed" not in tiny
    assert {_pattern(k) for k in tiny} == {_pattern(k) for k in official}
    # 7 convs + first-conv norm (9), projection (4), pos conv g/v/bias (3), encoder norm (2), 12 x 16, lm_head (2)
    assert len(official) == 212 and len(tiny) == len(official) - 10 * 16  # 12 layers of 16 tensors vs 2


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
