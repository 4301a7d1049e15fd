"""The one exception type a user can cause; the CLI prints it as one line."""


class XlrobustError(Exception):
    """An error in the user's input (config, data, model, path): message names culprit and fix."""
