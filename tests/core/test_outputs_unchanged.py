"""Issue 15: declaring the parameters once changed no output. Each engine's result on tiny weights, through the public
CLI, matches the digests that the code before the change produced (tests/golden/engine_outputs.py wrote them)."""
import json

from tests.golden import engine_outputs as G


def test_every_engine_output_is_bit_identical_to_the_golden_run(tmp_path):
    expected = json.loads(G.GOLDEN.read_text())
    assert sorted(expected) == ["avatar", "expression", "lipdub", "portrait"]
    assert G.run_all(tmp_path, rest_off=True) == expected
