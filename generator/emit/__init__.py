"""Template encoding and the one YAML emitter."""
