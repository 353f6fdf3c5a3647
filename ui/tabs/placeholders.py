"""Tabs whose engines are planned but not part of this version: they say so instead of failing."""
import gradio as gr


def build_infinite_avatar() -> None:
    gr.Markdown(
        "### Infinite avatar is coming\n"
        "This tab will turn one photo and a long recording into minutes of talking video, window by window, "
        "without drifting. Its engine has not landed in this version of Mouthpiece yet.\n\n"
        "Meanwhile, **Animate a photo** makes a talking portrait from a photo and a clip of speech.")


def build_expression_control() -> None:
    gr.Markdown(
        "### Expression control is coming\n"
        "This tab will steer an animated face: smile, eyebrows, eye and lip opening, gaze and head pose. "
        "Its engine has not landed in this version of Mouthpiece yet.\n\n"
        "Meanwhile, **Animate a photo** makes a talking portrait from a photo and a clip of speech.")
