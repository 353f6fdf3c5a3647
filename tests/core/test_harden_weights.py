"""Issue 16, sizes and checksums before a download: the hub's path metadata (a recorded answer in the shape of the
hub's ``paths-info`` API, served on localhost and read by the real ``HfApi().get_paths_info`` and the product's
parsing) gives exact sizes per engine, is cached beside the checkpoints for an offline ``--list``, and is what a load
error checks a file against before it advises deleting it."""
import hashlib
import http.server
import json
import sys
import threading
from pathlib import Path

import pytest

from core import weights
from core.errors import BadInputError, MouthpieceError
from core.weights import cli as weights_cli
from core.weights import hub
from tests.appserver import register_engine

# This module doubles as a toy engine's weights manifest (one hub file, one URL file).
FILES = [
    weights.WeightFile("toy/net.safetensors", repo_id="example/toy", filename="net.safetensors"),
    weights.WeightFile("toy/extra/head.pth", url="http://127.0.0.1:1/head.pth"),
]
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB served for the URL file


def make_test_checkpoints(root):
    raise AssertionError("not used")


def register_toy(monkeypatch) -> None:
    from core.engine import Engine

    register_engine(monkeypatch, Engine("toy", "Toy engine", "toy_engine", generates=False),
                    weights=sys.modules[__name__])


RECORDED = json.loads((Path(__file__).parent / "data" / "hub_paths_info.json").read_text())


class _Hub(http.server.BaseHTTPRequestHandler):
    """POST /api/models/<owner>/<name>/paths-info/<revision>: the recorded answer for the paths asked."""

    asked: list = []

    def do_POST(self):
        repo = "/".join(self.path.split("/")[3:5])
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).asked.append((repo, body))
        answer = json.dumps(RECORDED.get(repo, [])).encode()
        self.send_response(200 if repo in RECORDED else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub_online(monkeypatch):
    from huggingface_hub import constants

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _Hub.asked.clear()
    yield
    server.shutdown()


def test_the_recorded_answer_parses_to_sizes_and_sha256(hub_online):
    register = weights.WeightFile("toy/net.safetensors", repo_id="example/toy", filename="net.safetensors")
    assert hub.ask_hub([register]) == {"example/toy/net.safetensors": {
        "size": 1234567, "sha256": "9b1f0c2e7a6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b"}}
    assert _Hub.asked[0][0] == "example/toy" and "net.safetensors" in _Hub.asked[0][1]


def test_list_shows_hub_sizes_then_the_cache_offline_then_says_once_they_are_unknown(hub_online, monkeypatch,
                                                                                   tmp_path, capsys):
    register_toy(monkeypatch)
    weights_cli.list_files(["toy"], str(tmp_path))
    online = capsys.readouterr().out
    assert "toy/net.safetensors" in online and "1.2 MB" in online
    assert "total" in online and "1.2 MB + 1 file(s) of unknown size" in online  # the URL file has no listed size
    assert json.loads((tmp_path / hub.CACHE_NAME).read_text())["example/toy/net.safetensors"]["size"] == 1234567

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _Hub.asked.clear()
    weights_cli.list_files(["toy"], str(tmp_path))
    offline = capsys.readouterr().out
    assert not _Hub.asked and "1.2 MB" in offline and "unknown until the hub" not in offline

    (tmp_path / hub.CACHE_NAME).unlink()
    weights_cli.list_files(["toy"], str(tmp_path))
    nothing = capsys.readouterr().out
    assert nothing.count("unknown until the hub is reachable") == 1
    assert "sizes of 1 hub file(s) are unknown until the hub is reachable (HF_HUB_OFFLINE is set)" in nothing


def test_a_load_error_advises_deleting_only_a_file_that_differs(monkeypatch, tmp_path):
    register_toy(monkeypatch)
    path = tmp_path / "toy" / "net.safetensors"
    path.parent.mkdir()
    path.write_bytes(b"\x00" * 64)  # not loadable
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    cache = tmp_path / hub.CACHE_NAME

    cache.write_text(json.dumps({"example/toy/net.safetensors": {"size": 1234567, "sha256": "ab" * 32}}))
    with pytest.raises(BadInputError) as wrong_size:
        weights.load_state_dict(path)
    assert str(wrong_size.value) == (f"{path} is corrupt or not a weights file (SafetensorError; 64 bytes, the "
                                     "official file has 1234567); delete it and run python download_weights.py")

    cache.write_text(json.dumps({"example/toy/net.safetensors": {"size": 64, "sha256": "ab" * 32}}))
    with pytest.raises(BadInputError, match=r"\(SafetensorError; a file whose SHA-256 differs from the official"):
        weights.load_state_dict(path)

    cache.write_text(json.dumps({"example/toy/net.safetensors": {"size": 64, "sha256": sha}}))
    with pytest.raises(MouthpieceError) as matches:
        weights.load_state_dict(path)
    assert not isinstance(matches.value, BadInputError) and matches.value.exit_code == 1
    assert "matches the official file's size and SHA-256: keep it" in str(matches.value)
    assert "delete" not in str(matches.value)


def test_a_download_that_differs_from_the_hubs_sha256_is_removed(monkeypatch, tmp_path):
    """The URL file of the toy manifest, served locally, checked against a recorded sha256 and size."""
    class Files(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/head.pth"
    payload = PAYLOAD
    try:
        for sha, ok in (("00" * 32, False), (hashlib.sha256(payload).hexdigest(), True)):
            item = weights.WeightFile("toy/extra/head.pth", url=url, size=len(payload), sha256=sha)
            monkeypatch.setattr(sys.modules[__name__], "FILES", [item])
            register_toy(monkeypatch)
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
            if ok:
                assert weights.download("toy", tmp_path) == [tmp_path / "toy/extra/head.pth"]
                assert (tmp_path / "toy/extra/head.pth").read_bytes() == payload
            else:
                with pytest.raises(MouthpieceError, match="SHA-256 differs from the official file's; run the "
                                                          "download again"):
                    weights.download("toy", tmp_path)
                assert not (tmp_path / "toy/extra/head.pth").exists()
    finally:
        server.shutdown()
