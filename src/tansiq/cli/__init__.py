"""The ``tansiq`` command: a thin layer that parses arguments, calls the API and renders."""
