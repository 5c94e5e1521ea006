"""The commands of ``hoist`` other than the release itself.

``init`` and ``lock`` set a project up; ``status``, ``rebuild`` and ``ci``
read releases back.  Each is a function that returns a value; the command
line (:mod:`hoist.cli`) prints it.
"""
