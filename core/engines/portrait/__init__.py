"""Animate a photo: MoDA motion diffusion (``moda/``) driving the LivePortrait renderer; entry points in pipeline.py."""
