"""One module per ``python -m prodmatch`` command: ``add_arguments(parser)`` and ``run(args) -> int``, and
optionally ``parse_args(parser, argv)`` when a command parses in two stages (train). A command parses, calls
one function of the pipeline (or kernel/report) and prints."""
