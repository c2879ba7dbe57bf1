"""The `casenotes` command line and the practice configuration: thin, on top of the core."""
