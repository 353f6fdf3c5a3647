"""Run by test_studio_limits in a fresh process: the photo engine's render loop on a big photo for N frames, the
renderer's 512x512 output replaced by a constant (its cost and memory do not depend on the photo or the frame count),
so what is measured is what grows with the photo and the frames: paste-back at full size and the batches handed on.
Prints the process's peak RSS in MiB.

    python -m tests.studio_memory_probe PHOTO AUDIO CHECKPOINTS FRAMES BATCH
"""
import resource
import sys

import torch


def main(photo: str, audio: str, checkpoints: str, frames: int, batch: int) -> None:
    import tempfile

    from core.audio.options import AudioOptions
    from core.engines.portrait import PortraitRequest
    from core.engines.portrait import pipeline as P
    from core.jobs import JobContext
    from core.liveportrait import LivePortraitRenderer

    LivePortraitRenderer.render = lambda self, source, x_d, batch_size=25: torch.full((x_d.shape[0], 3, 512, 512), 0.5)
    request = PortraitRequest(image=photo, audio=AudioOptions(audio, rest="off"), box=[740, 280, 1100, 740],
                              render_batch=batch, device="cpu", dtype="fp32",
                              checkpoints=checkpoints)
    ctx = JobContext(tempfile.mkdtemp()).resolve("portrait", request)
    prep = P._prepare(request, ctx)
    raw = prep.source.motion_vector().float().cpu().repeat(frames, 1)
    shown = []
    P.render_frames(prep, raw, request, ctx, lambda batch: shown.append(len(batch)))  # the encoder's place: drops it
    assert sum(shown) == frames
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
