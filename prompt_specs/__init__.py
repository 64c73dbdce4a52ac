"""Built-in prompt specs: `<department>/<document>.yaml`. Loaded by teichaku.specs."""
