"""One module per area: `prepare(app)` and `scenarios(state, server)`; see bench/README.md."""
