"""The interfaces, the runner, the store, the plugin manager and configs. Imports no method."""
