"""Gradio studio: lays out controls and calls core; holds no logic the CLI would need."""
import os

# A local studio must not phone home; set before gradio is first imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
