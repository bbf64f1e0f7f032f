"""Applying a trained translator to a user's own image files: `phenbench translate`.

`runner.translate_folder` is the library function; `plugin.py` adds the command line around it.
"""
