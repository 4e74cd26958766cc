"""One module per ``python -m prodmatch`` command: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
