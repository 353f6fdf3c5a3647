"""One module per tab; each exposes build() called inside its gr.Tab (see ui.app.TAB_MODULES)."""
