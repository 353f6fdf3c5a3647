"""Mouthpiece core: engines, media I/O, weights and jobs. Nothing here imports Gradio."""
