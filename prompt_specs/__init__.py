"""Built-in prompt specs: `<department>/<document>.yaml`. Loaded by core.specs."""
