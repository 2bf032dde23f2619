"""One module per command, each parallel in shape (as in asv's own ``commands/``).

A command module defines::

    NAME = "export"                 # the word typed after ``python -m tools``
    HELP = "one line for --help"
    def add_arguments(parser): ...  # argparse options
    def run(args) -> int: ...       # exit code; raise ToolError for expected bad input

``tools.__main__`` discovers every module here, so adding a command is adding a file.
"""
