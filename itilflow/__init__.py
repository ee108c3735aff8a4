"""itilflow: an ITIL workflow engine shared by an IT operations provider and its customers."""

__version__ = "0.1.0"
