"""The use cases of the Tansiq service, each one transaction: the only layer that decides
who may do and see what. CLI and API call these functions and render their results."""
