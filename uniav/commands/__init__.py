"""Sub-commands of the `uniav` command line.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int`` and
keeps its top-level imports light (heavy imports happen inside ``run``), so that ``uniav --help``
stays instant.
"""
