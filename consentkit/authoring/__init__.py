"""Reading and validating a study authoring folder (docs/authoring-format.md).

Pure apart from reading files: nothing here touches the database. Every
problem names the file, the line where possible, and what to fix.
"""
