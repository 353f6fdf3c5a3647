"""Generation engines; each subpackage exposes a request dataclass, ``run`` / ``preview``, a CLI and a weights
manifest."""
